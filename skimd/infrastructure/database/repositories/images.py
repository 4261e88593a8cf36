"""Chart images and screenshots for trades and reports, each with a WebP thumbnail.

Input is checked with Pillow before anything is written: bytes that are not a PNG, JPEG,
WebP or GIF image (or that are absurdly large) raise InvalidInputError. The thumbnail is a
real downscaled WebP no larger than ``max_size`` on either side.
"""

from __future__ import annotations

import datetime as dt
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlmodel import col

from skimd.errors import InvalidInputError

if TYPE_CHECKING:
    from PIL import Image as PILImage

from ..tables import Image
from ._base import Repository

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
DEFAULT_THUMBNAIL_SIZE = (320, 320)
_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


@dataclass(frozen=True)
class ProcessedImage:
    mime: str
    width: int
    height: int
    thumbnail: bytes
    thumb_width: int
    thumb_height: int


def process_image(data: bytes, max_size: tuple[int, int]) -> ProcessedImage:
    """Validate ``data`` as an image and make its WebP thumbnail."""
    from PIL import Image as PILImage  # lazy: only journal reports need Pillow
    from PIL import UnidentifiedImageError

    if not data:
        raise InvalidInputError("image: empty input; expected PNG, JPEG, WebP or GIF bytes")
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidInputError(f"image: {len(data)} bytes is over the {MAX_IMAGE_BYTES} limit")
    if max_size[0] < 1 or max_size[1] < 1:
        raise InvalidInputError(f"image: thumbnail max_size {max_size} must be positive")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as probe:
                fmt = probe.format or ""
                probe.verify()
            if fmt not in _MIME:
                raise InvalidInputError(
                    f"image: format {fmt or 'unknown'} is not accepted; use PNG, JPEG, WebP or GIF"
                )
            with PILImage.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise InvalidInputError(f"image: {width}x{height} pixels is too large")
                img.load()
                thumb = img.convert("RGBA" if _has_alpha(img) else "RGB")
                thumb.thumbnail(max_size, PILImage.Resampling.LANCZOS)
                out = io.BytesIO()
                thumb.save(out, format="WEBP", quality=80, method=4)
    except InvalidInputError:
        raise
    except (
        UnidentifiedImageError,
        PILImage.DecompressionBombError,
        PILImage.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        raise InvalidInputError(
            f"image: not a readable PNG, JPEG, WebP or GIF image ({type(exc).__name__})"
        ) from exc
    return ProcessedImage(_MIME[fmt], width, height, out.getvalue(), *thumb.size)


def _has_alpha(img: PILImage.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)


class ImageRepository(Repository[Image]):
    model = Image

    def save(
        self,
        data: bytes,
        now: dt.datetime,
        *,
        kind: str = "chart",
        trade_id: int | None = None,
        report_id: int | None = None,
        max_size: tuple[int, int] = DEFAULT_THUMBNAIL_SIZE,
    ) -> Image:
        info = process_image(data, max_size)
        image = Image(
            trade_id=trade_id,
            report_id=report_id,
            kind=kind,
            mime=info.mime,
            data=data,
            width=info.width,
            height=info.height,
            thumbnail=info.thumbnail,
            thumb_width=info.thumb_width,
            thumb_height=info.thumb_height,
            created_at=now,
        )
        return self.add(image)

    def get_for_trade(self, trade_id: int) -> Sequence[Image]:
        stmt = select(Image).where(col(Image.trade_id) == trade_id).order_by(col(Image.id))
        return list(self._session.scalars(stmt).all())

    def get_for_report(self, report_id: int) -> Sequence[Image]:
        stmt = select(Image).where(col(Image.report_id) == report_id).order_by(col(Image.id))
        return list(self._session.scalars(stmt).all())

    def get_thumbnail(self, image_id: int) -> bytes | None:
        stmt = select(col(Image.thumbnail)).where(col(Image.id) == image_id)
        thumb: bytes | None = self._session.scalars(stmt).first()
        return thumb
