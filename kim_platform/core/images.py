"""Checking and re-encoding uploaded images and documents.

Images are judged by their content, not their name: opened with Pillow (which reads only
the header until asked for pixels), refused above a pixel budget per image and per request
before anything is decoded (decompression bombs, CPU for free), rotated upright, stripped of
every piece of metadata (EXIF with GPS included) and written anew.
"""
import io
import warnings

from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

try:  # HEIC from iPhones, when the optional plugin is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - optional
    pass

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "MPO", "HEIF", "GIF"}
# One image: a 40-megapixel camera (7,300 x 5,470) still goes; beyond that a file is refused from
# its header, before a single pixel is decoded.
MAX_PIXELS = 40_000_000
# One request: decoding costs CPU in proportion to pixels (about 1.5 s for 40 MP with the two
# resized copies), whatever the file's size on the wire, so the pixels of all images of a
# request are added up from their headers and refused together beyond six 24-megapixel photos
# (a report's six photos from a good phone camera; the browser shrinks them to 1600 px anyway).
MAX_PIXELS_PER_REQUEST = 6 * 24_000_000


class UploadError(ValueError):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def _open_lazily(data: bytes, max_bytes: int) -> Image.Image:
    """Open an upload without decoding it (Pillow reads only the header) and check its size in
    bytes, its format and its pixel count."""
    if len(data) > max_bytes:
        raise UploadError(_l("The image is larger than %(mb)d MB.", mb=max_bytes // (1024 * 1024)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(_l("This file is not an image we can read.")) from None
    except (OSError, SyntaxError, ValueError):  # a damaged header
        raise UploadError(_l("The image is damaged or incomplete.")) from None
    if image.format not in ACCEPTED_FORMATS:
        raise UploadError(_l("Only JPEG, PNG, WebP or HEIC images are accepted."))
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise UploadError(_l("The image has too many pixels (at most 40 megapixels)."))
    return image


def image_pixels(data: bytes, max_bytes: int) -> int:
    """The pixel count of an acceptable upload, read from its header: nothing is decoded."""
    return image_header(data, max_bytes)[1]


def image_header(data: bytes, max_bytes: int) -> tuple[str, int]:
    """The format (Pillow's name: JPEG, PNG, …) and pixel count of an acceptable upload, from its header."""
    image = _open_lazily(data, max_bytes)
    width, height = image.size
    return image.format, width * height


# How an original kept for re-encoding later is stored (core/queue.py jobs): its own format's
# suffix. Other formats (HEIC, GIF) are re-encoded at once.
ORIGINAL_SUFFIXES = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp"}


def check_pixel_budget(pixel_counts, limit: int = MAX_PIXELS_PER_REQUEST) -> None:
    """Refuse the images of one request together when their pixels add up beyond `limit`."""
    total = sum(pixel_counts)
    if total > limit:
        raise UploadError(_l("The images together have %(total)d megapixels; at most %(limit)d are accepted at "
                             "once. Send fewer or smaller photos.", total=-(-total // 1_000_000),
                             limit=limit // 1_000_000))


def _open_checked(data: bytes, max_bytes: int, max_side: int | None = None) -> Image.Image:
    """Decode an upload after checking its size, format and pixel count; upright, in RGB(A).

    With `max_side`, a JPEG is decoded straight at the smallest of 1/2, 1/4 or 1/8 of its size
    that still has at least `max_side` pixels on its long side (libjpeg's scaled decoding): a
    12-megapixel photo shrunk to 1600 px never needs all its pixels, and decoding them was a
    third of the CPU of a report with a photo."""
    image = _open_lazily(data, max_bytes)
    if max_side and image.format in ("JPEG", "MPO"):
        width, height = image.size
        scale = max_side / max(width, height)
        if scale < 0.5:
            image.draft(None, (int(width * scale) + 1, int(height * scale) + 1))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(_l("This file is not an image we can read.")) from None
    except (OSError, SyntaxError, ValueError):  # truncated or corrupt files
        raise UploadError(_l("The image is damaged or incomplete.")) from None
    image = ImageOps.exif_transpose(image)
    return image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")


def _encode(image: Image.Image, max_side: int, fmt: str, quality: int) -> tuple[bytes, int, int]:
    copy = image.copy()
    copy.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return _clean_copy(copy, fmt, quality)


def _clean_copy(copy: Image.Image, fmt: str, quality: int) -> tuple[bytes, int, int]:
    """`copy` written anew in `fmt`, without any of its metadata."""
    if fmt == "JPEG" and copy.mode != "RGB":
        copy = copy.convert("RGB")
    # A new image object carries no EXIF, XMP or ICC data unless given explicitly.
    clean = Image.new(copy.mode, copy.size)
    clean.paste(copy)
    out = io.BytesIO()
    if fmt == "WEBP":
        clean.save(out, format="WEBP", quality=quality, method=4)
    else:
        clean.save(out, format=fmt, quality=quality, optimize=True)
    return out.getvalue(), clean.width, clean.height


def reencode_image(data: bytes, max_side: int, max_bytes: int, fmt: str = "WEBP", quality: int = 82) -> bytes:
    """A clean copy of the image at most `max_side` pixels on its long side."""
    return _encode(_open_checked(data, max_bytes, max_side=max_side), max_side, fmt, quality)[0]


def image_variants(data: bytes, max_bytes: int, sides=(1600, 400), fmt: str = "WEBP",
                   quality: int = 80) -> list[tuple[bytes, int, int]]:
    """Several clean sizes of one upload (e.g. the photo and its thumbnail), decoding it once,
    at the scale the largest needs; each smaller size is shrunk from the one before (no copy of
    the full image per size)."""
    image = _open_checked(data, max_bytes, max_side=max(sides))
    variants = {}
    for side in sorted(set(sides), reverse=True):
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        variants[side] = _clean_copy(image, fmt, quality)
    return [variants[side] for side in sides]


def check_pdf(data: bytes, max_bytes: int) -> bytes:
    """Accept a PDF by its content: the signature at the start and an end-of-file marker."""
    if len(data) > max_bytes:
        raise UploadError(_l("The file is larger than %(mb)d MB.", mb=max_bytes // (1024 * 1024)))
    if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-2048:]:
        raise UploadError(_l("This file is not a valid PDF."))
    return data
