"""Latency of storing and reading report photos, in-process, on the local disk and in S3.

    .venv/bin/python scripts/bench_storage.py [--photos 200] [--s3-port 5343]

Each photo is what a report stores: a full-size WebP and its thumbnail (core/images.py), written
with `save` and read back with `read`, as a request and /foto do. Local goes to a temporary
folder; S3 to a bucket of scripts/s3.sh started for the run on --s3-port (and stopped after).
"""
import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def photo_variants():
    from PIL import Image, ImageDraw

    from kim_platform.core.images import image_variants

    image = Image.new("RGB", (1600, 1200), (30, 120, 200))
    draw = ImageDraw.Draw(image)
    for n in range(0, 1600, 40):  # some detail, so WebP does not shrink it to nothing
        draw.line((n, 0, 1600 - n, 1200), fill=(n % 255, 90, 200 - n % 200), width=3)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    (full, _, _), (thumb, _, _) = image_variants(out.getvalue(), 5 * 1024 * 1024)
    return full, thumb


def measure(store, full: bytes, thumb: bytes, photos: int) -> dict:
    writes, reads, keys = [], [], []
    for _ in range(photos):
        started = time.perf_counter()
        pair = store.save(full, ".webp"), store.save(thumb, ".webp")
        writes.append(time.perf_counter() - started)
        keys.append(pair)
    for pair in keys:
        started = time.perf_counter()
        assert store.read(pair[0]) == full and store.read(pair[1]) == thumb
        reads.append(time.perf_counter() - started)
    for pair in keys:
        store.delete(pair[0])
        store.delete(pair[1])

    def summary(values):
        values = sorted(v * 1000 for v in values)
        return (f"median {statistics.median(values):6.2f} ms  p95 {values[int(len(values) * 0.95) - 1]:6.2f} ms  "
                f"mean {statistics.fmean(values):6.2f} ms")

    return {"upload (photo + thumbnail)": summary(writes), "read (photo + thumbnail)": summary(reads)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--s3-port", type=int, default=5343)
    args = parser.parse_args()

    from kim_platform import create_app
    from kim_platform.core.storage import storage

    full, thumb = photo_variants()
    print(f"{args.photos} photos: full {len(full) / 1024:.0f} KiB, thumbnail {len(thumb) / 1024:.0f} KiB")
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "KIM_S3_PORT": str(args.s3_port), "KIM_S3_DIR": f"{scratch}/s3",
               "KIM_S3_ACCESS_KEY_ID": "bench", "KIM_S3_SECRET_ACCESS_KEY": "bench-secret"}
        subprocess.run([str(ROOT / "scripts" / "s3.sh"), "start"], env=env, check=True)
        try:
            backends = {
                "local": {"UPLOAD_DIR": f"{scratch}/uploads"},
                "s3": {"STORAGE": "s3", "S3_ENDPOINT_URL": f"http://127.0.0.1:{args.s3_port}", "S3_BUCKET": "kim",
                       "S3_ACCESS_KEY_ID": "bench", "S3_SECRET_ACCESS_KEY": "bench-secret"},
            }
            for name, settings in backends.items():
                app = create_app({"TESTING": True, **settings})
                with app.app_context():
                    store = storage()
                    measure(store, full, thumb, 5)  # warm up: connections, the first volume
                    for label, figure in measure(store, full, thumb, args.photos).items():
                        print(f"{name:5}  {label:27} {figure}")
        finally:
            subprocess.run([str(ROOT / "scripts" / "s3.sh"), "stop"], env=env, check=True)


if __name__ == "__main__":
    main()
