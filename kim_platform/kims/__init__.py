"""KIM registry: groups by bidang and desa, on the map, verified by their region's pembina."""
