"""Wilayah: Indonesia's administrative regions (provinsi → kabupaten/kota → kecamatan → desa/kelurahan)."""
