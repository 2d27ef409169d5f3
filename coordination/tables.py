"""Reading uploaded tables (CSV in UTF-8, UTF-8 with BOM or CP932; XLSX) and the
cell parsers shared by every import. Nothing here touches the database."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

XLSX_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class RowError:
    """One problem: the spreadsheet row (header = row 1), the column, what is wrong."""

    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(_("row %(row)s") % {"row": self.row})
        if self.column:
            where.append(_("column %(column)s") % {"column": self.column})
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}


class TableError(Exception):
    """The table cannot be imported; `errors` says every reason found."""

    def __init__(self, errors: list[RowError]):
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


@dataclass
class Table:
    columns: list[str]
    rows: list[tuple[int, dict[str, object]]] = field(default_factory=list)


def decode_csv(data: bytes) -> str:
    # Text in UTF-8 or CP932 has no NUL bytes; UTF-16 (Excel's "Unicode text") and binary
    # files do, and CP932 would "decode" them into garbage (PostgreSQL rejects NUL too).
    if b"\x00" in data:
        raise TableError(
            [RowError(None, None, _("The file is neither UTF-8 nor CP932 (Shift_JIS) text."))]
        )
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp932")
    except UnicodeDecodeError:
        raise TableError(
            [RowError(None, None, _("The file is neither UTF-8 nor CP932 (Shift_JIS) text."))]
        ) from None


def _xlsx_rows(data: bytes) -> Iterable[tuple[int, list[object]]]:
    import openpyxl

    # A damaged workbook can fail in openpyxl in many ways (a bad zip, broken XML, a
    # missing part), while opening it or while reading its rows (read-only mode parses
    # the sheet lazily): read every row here so that each one is a TableError.
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            rows = [list(values) for values in book.worksheets[0].iter_rows(values_only=True)]
        finally:
            book.close()
    except Exception:
        raise TableError(
            [RowError(None, None, _("The file is not a readable Excel (.xlsx) workbook."))]
        ) from None
    yield from enumerate(rows, start=1)


def _csv_rows(data: bytes) -> Iterable[tuple[int, list[object]]]:
    text = decode_csv(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        for number, values in enumerate(reader, start=1):
            yield number, list(values)
    except csv.Error as exc:
        raise TableError([RowError(None, None, _("The CSV cannot be read: %s") % exc)]) from None


def _cell(value: object) -> object:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return "" if value is None else value


def iter_rows(data: bytes, filename: str) -> Iterable[tuple[int, list[object]]]:
    """(row number, raw cells) of the first sheet of an XLSX file or of a CSV file in
    UTF-8 (with or without BOM) or CP932; TableError for an empty file."""
    if not data.strip():
        raise TableError([RowError(None, None, _("The file is empty."))])
    is_xlsx = data.startswith(XLSX_MAGIC) or filename.lower().endswith((".xlsx", ".xlsm"))
    return _xlsx_rows(data) if is_xlsx else _csv_rows(data)


def read_table(
    data: bytes, filename: str, *, allowed: Iterable[str], required: Iterable[str]
) -> Table:
    """Read the first sheet or the CSV; check the header against the allowed columns."""
    source = iter_rows(data, filename)

    allowed = list(allowed)
    table: Table | None = None
    errors: list[RowError] = []
    for number, raw in source:
        values = [_cell(v) for v in raw]
        if all(v == "" for v in values):
            continue
        if table is None:
            header = [str(v).strip().lower() for v in values]
            while header and header[-1] == "":
                header.pop()
            for position, name in enumerate(header, start=1):
                if not name:
                    errors.append(
                        RowError(number, None, _("Column %(n)s has no name.") % {"n": position})
                    )
                elif name not in allowed:
                    errors.append(
                        RowError(
                            number,
                            name,
                            _("Unknown column. Allowed columns: %(allowed)s.")
                            % {"allowed": ", ".join(allowed)},
                        )
                    )
                elif header.index(name) != position - 1:
                    errors.append(RowError(number, name, _("This column appears twice.")))
            for name in required:
                if name not in header:
                    errors.append(RowError(number, name, _("Required column is missing.")))
            if errors:
                raise TableError(errors)
            table = Table(columns=header)
            continue
        extra = values[len(table.columns) :]
        if any(v != "" for v in extra):
            errors.append(
                RowError(number, None, _("This row has more cells than the header has columns."))
            )
            continue
        values += [""] * (len(table.columns) - len(values))
        table.rows.append((number, dict(zip(table.columns, values, strict=False))))
    if table is None:
        raise TableError([RowError(None, None, _("The file has no header row."))])
    if errors:
        raise TableError(errors)
    if not table.rows:
        raise TableError([RowError(None, None, _("The file has a header but no data rows."))])
    return table


class CellError(ValueError):
    pass


def text(value: object, *, max_length: int = 200, required: bool = False) -> str:
    result = "" if value is None else str(value).strip()
    if required and not result:
        raise CellError(_("This field is required."))
    if len(result) > max_length:
        raise CellError(_("Longer than %(n)s characters.") % {"n": max_length})
    return result


def email(value: object, *, required: bool = True) -> str:
    result = text(value, max_length=254, required=required).lower()
    if result:
        try:
            validate_email(result)
        except ValidationError:
            raise CellError(
                _("%(value)r is not a valid e-mail address.") % {"value": result}
            ) from None
    return result


def date(value: object, *, required: bool = False) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raw = text(value, max_length=40, required=required)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise CellError(
            _("%(value)r is not a date; write it as YYYY-MM-DD.") % {"value": raw}
        ) from None


def number(value: object, *, low: float, high: float) -> float | None:
    if value == "" or value is None:
        return None
    try:
        # No comma stripping here: in "37,5" it may be a decimal comma, and guessing
        # would store a wrong coordinate silently.
        result = float(str(value))
    except ValueError:
        raise CellError(_("%(value)r is not a number.") % {"value": value}) from None
    if not (low <= result <= high):
        raise CellError(
            _("%(value)s is outside %(low)s to %(high)s.")
            % {"value": value, "low": low, "high": high}
        )
    return result


def whole_number(value: object, *, high: int = 2_147_483_647) -> int | None:
    """A count; `high` is the largest value a database integer column holds."""
    if value == "" or value is None:
        return None
    try:
        result = int(str(value).replace(",", ""))
    except ValueError:
        raise CellError(_("%(value)r is not a whole number.") % {"value": value}) from None
    if result < 0:
        raise CellError(_("Must not be negative."))
    if result > high:
        raise CellError(
            _("%(value)s is outside %(low)s to %(high)s.")
            % {"value": value, "low": 0, "high": high}
        )
    return result


def choice(value: object, *, choices: list[str], default: str | None) -> str | None:
    raw = text(value, max_length=40).lower()
    if not raw:
        return default
    if raw not in choices:
        raise CellError(
            _("%(value)r is not one of: %(choices)s.")
            % {"value": raw, "choices": ", ".join(choices)}
        )
    return raw
