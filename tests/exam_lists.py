"""The exam council's candidate list as a test centre receives it: an XLSX (openpyxl) or a CSV as Excel saves it,
with Vietnamese headings and names, a few rows of which can be made wrong on purpose."""

from __future__ import annotations

import io
from datetime import date, time

from openpyxl import Workbook
from openpyxl.drawing.image import Image
from openpyxl.utils import get_column_letter

HEADINGS = ["Số báo danh", "Họ và tên", "Số định danh cá nhân", "Ngày sinh", "Hạng", "Nội dung thi", "Ngày thi",
            "Ca thi", "Phòng thi"]
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
MIDDLE = ["Văn", "Thị", "Hữu", "Minh", "Thanh", "Ngọc", "Đức", "Quốc"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Hà", "Hùng", "Lan", "Linh", "Mai", "Nam", "Phương", "Quân", "Thảo", "Tú"]


def candidate(n: int, day: date) -> list:
    """Row n of the day's list: a name, a personal number, a birth date, a class, the parts, a slot and a room."""
    name = f"{SURNAMES[n % 12]} {MIDDLE[n % 8]} {GIVEN[n % 14]}"
    return [f"{n:04d}", name, f"0010{90000000 + n:08d}", date(1980 + n % 25, 1 + n % 12, 1 + n % 28),
            ("B", "C1", "A1")[n % 3], "lý thuyết, mô phỏng" if n % 2 else "lý thuyết, sa hình, đường trường",
            day, time(7 + (n // 100) % 4 * 2, 30), f"Phòng {1 + n % 4}"]


def candidate_rows(count: int, day: date) -> list[list]:
    return [candidate(n, day) for n in range(1, count + 1)]


def xlsx(rows: list[list], headings: list[str] = HEADINGS, photos: dict[int, bytes] | None = None) -> bytes:
    """The list as a workbook; with `photos` (the picture of rows[i]), a last column "Ảnh" holding each picture
    placed in the row's cell, as Excel's Insert > Picture and a drag do."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Danh sách thí sinh"
    sheet.append(headings + ["Ảnh"] if photos is not None else headings)
    for row in rows:
        sheet.append(row)
    column = get_column_letter(len(headings) + 1)
    for i, picture in (photos or {}).items():
        sheet.add_image(Image(io.BytesIO(picture)), f"{column}{i + 2}")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def excel_csv(rows: list[list], headings: list[str] = HEADINGS) -> bytes:
    """As Excel's "CSV UTF-8" saves it in a Vietnamese locale: a byte-order mark, semicolons, dd/mm/yyyy."""
    def text(v) -> str:
        return f"{v:%d/%m/%Y}" if isinstance(v, date) else f"{v:%H:%M}" if isinstance(v, time) else str(v)
    lines = [";".join(headings)] + [";".join(text(v) for v in row) for row in rows]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")
