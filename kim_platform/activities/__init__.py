"""Activity reports (kegiatan): what KIMs did, where, for how many people, with photos and links."""
