"""Chart images and screenshots for trades, reports and plans, each with a WebP thumbnail.

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
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlmodel import SQLModel, col

from skimd.errors import InvalidInputError

if TYPE_CHECKING:
    from PIL import Image as PILImage

from ..tables import Image, Trade, TradePlan, TradeReport
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


OWNER_TABLES: dict[str, type[SQLModel]] = {
    "trade": Trade,
    "report": TradeReport,
    "plan": TradePlan,
}
"""What an image can belong to (``images.owner_type``) and the table ``owner_id`` is in."""


class ImageRepository(Repository[Image]):
    """Images by owner, as the journal specification names the calls:
    ``save(owner_type, owner_id, data, ...)``, ``get(image_id)``,
    ``get_for_owner(owner_type, owner_id)``, ``get_thumbnail(image_id, max_size)``.

    ``images`` has no foreign key (one column cannot point at three tables), so
    :meth:`save` refuses an unknown owner type or an owner id that does not exist."""

    model = Image

    def save(
        self,
        owner_type: str,
        owner_id: int,
        data: bytes,
        now: dt.datetime,
        *,
        kind: str = "chart",
        caption: str | None = None,
        max_size: tuple[int, int] = DEFAULT_THUMBNAIL_SIZE,
    ) -> Image:
        table = OWNER_TABLES.get(owner_type)
        if table is None:
            raise InvalidInputError(
                f"image: owner type {owner_type!r} is not one of {', '.join(OWNER_TABLES)}"
            )
        if isinstance(owner_id, bool) or not isinstance(owner_id, int):
            raise InvalidInputError(f"image: {owner_type} id must be a number, got {owner_id!r}")
        if self._session.get(table, owner_id) is None:
            raise InvalidInputError(f"image: there is no {owner_type} {owner_id}")
        info = process_image(data, max_size)
        image = Image(
            owner_type=owner_type,
            owner_id=owner_id,
            caption=caption,
            file_size=len(data),
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

    def get(self, ident: Any) -> Image | None:
        """The image with id ``ident``; None when there is none. Image ids are numbers:
        any other type is a caller's bug and raises TypeError rather than quietly finding
        nothing (an owner's images come from :meth:`get_for_owner`)."""
        if isinstance(ident, bool) or not isinstance(ident, int):
            raise TypeError(f"ImageRepository.get takes the image id (int), got {ident!r}")
        return self._session.get(Image, ident)

    def get_for_owner(self, owner_type: str, owner_id: int) -> Sequence[Image]:
        """The owner's images, oldest first."""
        stmt = (
            select(Image)
            .where(col(Image.owner_type) == owner_type, col(Image.owner_id) == owner_id)
            .order_by(col(Image.id))
        )
        return list(self._session.scalars(stmt).all())

    def get_thumbnail(
        self, image_id: int, max_size: tuple[int, int] | None = None
    ) -> bytes | None:
        """The WebP thumbnail: the stored one, or with ``max_size`` one made now from the
        original no larger than that on either side. None when there is no such image."""
        if max_size is None:
            stmt = select(col(Image.thumbnail)).where(col(Image.id) == image_id)
            thumb: bytes | None = self._session.scalars(stmt).first()
            return thumb
        image = self.get(image_id)
        return None if image is None else process_image(image.data, max_size).thumbnail
