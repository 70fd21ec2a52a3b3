//! Products as CSV, for spreadsheets: the import is checked whole before anything is
//! written; the export writes the same columns back.
//!
//! Columns (header row required, any order, unknown columns ignored): `sku`, `title`,
//! `description`, `price` (e.g. `19.99` or `19,99`), `currency` (default EUR), `stock`,
//! `images` (URLs separated by `|`), `connection_id` (empty for cockpit-only products).
//! Comma or semicolon separated (German spreadsheets use `;`).
//!
//! Text cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`,
//! tab or CR) are written with a leading `'`, as OWASP recommends against CSV injection; a
//! text that itself starts with `'` gets one too, so the import can take exactly one `'` off
//! such cells and every text comes back as it was exported.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use sm_http::FieldError;
use uuid::Uuid;

use super::product::{self, ProductFields, ProductInput};

pub const HEADER: [&str; 9] = [
    "id",
    "connection_id",
    "sku",
    "title",
    "description",
    "price",
    "currency",
    "stock",
    "images",
];
/// A file with more problems than this reports only the first ones.
const MAX_REPORTED_ERRORS: usize = 500;

/// Why a file imports nothing.
#[derive(Debug)]
pub enum ImportError {
    /// Bad rows or a bad file, each named (`rows[12].price`, `file`).
    Invalid(Vec<FieldError>),
    /// More product rows than one import may hold; parsing stopped there.
    TooManyRows { max: usize },
}

impl From<Vec<FieldError>> for ImportError {
    fn from(errors: Vec<FieldError>) -> Self {
        ImportError::Invalid(errors)
    }
}

/// Characters that make a spreadsheet cell a formula (OWASP "CSV injection"), and the quote
/// that escapes them.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];
const ESCAPE: char = '\'';

/// A text cell as exported: `'` before a formula character or a leading `'`.
pub fn escape_text(text: &str) -> Cow<'_, str> {
    match text.chars().next() {
        Some(c) if c == ESCAPE || FORMULA_START.contains(&c) => {
            Cow::Owned(format!("{ESCAPE}{text}"))
        }
        _ => Cow::Borrowed(text),
    }
}

/// Undoes [`escape_text`]: one `'` is taken off only where the export put it, so a cell such
/// as `'Kölsch'` that was typed by hand stays as it is.
pub fn unescape_text(cell: &str) -> &str {
    match cell.strip_prefix(ESCAPE) {
        Some(rest) if rest.starts_with(ESCAPE) || rest.starts_with(FORMULA_START) => rest,
        _ => cell,
    }
}

/// One checked row of an import.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    pub connection_id: Option<Uuid>,
    pub fields: ProductFields,
}

/// `19.99`, `19,99`, `19`, `1.234,50`? — the last is refused: no thousands separators.
pub fn parse_price(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let (units, cents) = match raw.find(['.', ',']) {
        Some(at) => (&raw[..at], &raw[at + 1..]),
        None => (raw, ""),
    };
    if units.is_empty()
        || !units.bytes().all(|b| b.is_ascii_digit())
        || cents.len() > 2
        || !cents.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let cents = match cents.len() {
        0 => 0,
        1 => cents.parse::<i64>().ok()? * 10,
        _ => cents.parse::<i64>().ok()?,
    };
    units
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

pub fn format_price(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn row_error(line: u64, field: &str, e: FieldError) -> FieldError {
    FieldError::new(format!("rows[{line}].{field}"), e.code, e.message)
}

/// Parses and checks a whole file of at most `max_rows` product rows. `connections` are the
/// caller's connection ids. Errors name the line (`rows[12].price`); a file with any error
/// imports nothing. CPU-bound on large files: call it off the async threads.
pub fn parse(
    bytes: &[u8],
    connections: &HashSet<Uuid>,
    max_rows: usize,
) -> Result<Vec<ImportRow>, ImportError> {
    let file_error =
        |code: &'static str, message: &'static str| vec![FieldError::new("file", code, message)];
    let text = std::str::from_utf8(bytes)
        .map_err(|_| file_error("invalid_encoding", "Save the file as UTF-8."))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text); // Excel's byte-order mark
    let first_line = text.lines().next().unwrap_or_default();
    let delimiter = if first_line.matches(';').count() > first_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|_| file_error("invalid_csv", "The header row cannot be read."))?
        .clone();
    let column: HashMap<String, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim().to_ascii_lowercase(), i))
        .collect();
    for required in ["sku", "title", "price"] {
        if !column.contains_key(required) {
            return Err(vec![FieldError::new(
                "file",
                "missing_column",
                format!("The header has no `{required}` column."),
            )]
            .into());
        }
    }

    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    let mut product_rows = 0;
    for record in reader.records() {
        if errors.len() >= MAX_REPORTED_ERRORS {
            break;
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(FieldError::new(
                    format!("rows[{line}]"),
                    "invalid_csv",
                    "This line cannot be read (check the quotes).",
                ));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let get = |name: &str| {
            column
                .get(name)
                .and_then(|&i| record.get(i))
                .unwrap_or_default()
        };
        let text = |name: &str| unescape_text(get(name)).to_owned();
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        product_rows += 1;
        if product_rows > max_rows {
            return Err(ImportError::TooManyRows { max: max_rows });
        }
        let price = match parse_price(get("price")) {
            Some(cents) => cents,
            None => {
                errors.push(FieldError::new(
                    format!("rows[{line}].price"),
                    "invalid_price",
                    "Write prices like 19.99 or 19,99.",
                ));
                continue;
            }
        };
        let stock = match get("stock").trim() {
            "" => 0,
            s => match s.parse::<i32>() {
                Ok(n) => n,
                Err(_) => {
                    errors.push(FieldError::new(
                        format!("rows[{line}].stock"),
                        "invalid_stock",
                        "Stock is a whole number.",
                    ));
                    continue;
                }
            },
        };
        let connection_id = match get("connection_id").trim() {
            "" => None,
            s => match s.parse::<Uuid>().ok().filter(|id| connections.contains(id)) {
                Some(id) => Some(id),
                None => {
                    errors.push(FieldError::new(
                        format!("rows[{line}].connection_id"),
                        "unknown_connection",
                        "No such connection of yours.",
                    ));
                    continue;
                }
            },
        };
        let currency = match unescape_text(get("currency").trim()) {
            "" => "EUR",
            c => c,
        };
        let input = ProductInput {
            sku: text("sku"),
            title: text("title"),
            description: text("description"),
            price: product::Money {
                amount: price,
                currency: currency.to_owned(),
            },
            stock,
            images: unescape_text(get("images"))
                .split('|')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            connection_id,
        };
        match ProductFields::parse(&input) {
            Ok(fields) => {
                if !seen.insert((connection_id, fields.sku.clone())) {
                    errors.push(FieldError::new(
                        format!("rows[{line}].sku"),
                        "duplicate_sku",
                        "This SKU appears more than once in the file.",
                    ));
                    continue;
                }
                rows.push(ImportRow {
                    connection_id,
                    fields,
                });
            }
            Err(field_errors) => errors.extend(field_errors.into_iter().map(|e| {
                let field = e.field.clone();
                row_error(line, &field, e)
            })),
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    if rows.is_empty() {
        return Err(file_error("empty", "The file has no product rows.").into());
    }
    Ok(rows)
}

/// One CSV record per product, in [`HEADER`] order; text cells escaped against formulas
/// (numbers are never negative, so they need no escaping and stay numbers).
pub fn record(id: Uuid, connection_id: Option<Uuid>, f: &ProductFields) -> [String; 9] {
    [
        id.to_string(),
        connection_id.map(|c| c.to_string()).unwrap_or_default(),
        escape_text(&f.sku).into_owned(),
        escape_text(&f.title).into_owned(),
        escape_text(&f.description).into_owned(),
        format_price(f.price_cents),
        escape_text(&f.currency).into_owned(),
        f.stock.to_string(),
        escape_text(&f.images.join("|")).into_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_in_both_notations_and_nothing_else() {
        assert_eq!(parse_price("19.99"), Some(1999));
        assert_eq!(parse_price("19,9"), Some(1990));
        assert_eq!(parse_price(" 7 "), Some(700));
        assert_eq!(parse_price("0,05"), Some(5));
        for bad in [
            "",
            "-1",
            "1.234,50",
            "19.999",
            "abc",
            "1e3",
            "99999999999999999999",
        ] {
            assert_eq!(parse_price(bad), None, "{bad}");
        }
        assert_eq!(format_price(1999), "19.99");
        assert_eq!(format_price(5), "0.05");
    }

    #[test]
    fn semicolon_files_with_a_bom_parse() {
        let file = "\u{feff}sku;title;price;stock;images\nA-1;Becher „Köln“;12,50;3;https://x.de/a.jpg|https://x.de/b.jpg\n\nA-2;Teller;4;;\n";
        let rows = parse(file.as_bytes(), &HashSet::new(), 10).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].fields.price_cents, 1250);
        assert_eq!(rows[0].fields.images.len(), 2);
        assert_eq!(rows[1].fields.stock, 0);
        assert_eq!(rows[1].fields.currency, "EUR");
    }

    #[test]
    fn every_bad_row_is_reported_by_line() {
        let other = Uuid::now_v7();
        let file = format!("sku,title,price,stock,connection_id\nA,Ok,1.00,1,\nB,,2.00,1,\nC,Bad price,zwei,1,\nA,Dup,1.00,1,\nD,Foreign,1.00,1,{other}\nE,Neg,1.00,-5,\n");
        let errors = invalid(parse(file.as_bytes(), &HashSet::new(), 10));
        let fields: Vec<_> = errors.iter().map(|e| e.field.to_string()).collect();
        assert_eq!(
            fields,
            [
                "rows[3].title",
                "rows[4].price",
                "rows[5].sku",
                "rows[6].connection_id",
                "rows[7].stock"
            ]
        );
    }

    #[test]
    fn files_without_the_needed_columns_are_refused() {
        let code = |file: &[u8]| invalid(parse(file, &HashSet::new(), 10))[0].code.clone();
        assert_eq!(code(b"name,cost\nx,1\n"), "missing_column");
        assert_eq!(code(b"sku,title,price\n"), "empty");
        assert_eq!(code(&[0xff, 0xfe, 0x00]), "invalid_encoding");
    }

    fn invalid(result: Result<Vec<ImportRow>, ImportError>) -> Vec<FieldError> {
        match result {
            Err(ImportError::Invalid(errors)) => errors,
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn parsing_stops_past_the_row_cap() {
        let rows = |n: usize| {
            let mut file = String::from("sku,title,price\n");
            for i in 0..n {
                file.push_str(&format!("S-{i},T,1\n\n"));
            }
            file
        };
        // Blank lines are not rows.
        assert_eq!(
            parse(rows(3).as_bytes(), &HashSet::new(), 3).unwrap().len(),
            3
        );
        assert!(matches!(
            parse(rows(4).as_bytes(), &HashSet::new(), 3),
            Err(ImportError::TooManyRows { max: 3 })
        ));
    }

    #[test]
    fn formula_cells_are_escaped_reversibly() {
        for text in [
            "=HYPERLINK(\"https://evil.example\",\"x\")",
            "+1",
            "-1",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
            "'=1",
            "''",
            "'",
            "Kaffee",
            "",
        ] {
            let cell = escape_text(text);
            assert!(
                !cell.starts_with(FORMULA_START),
                "{text:?} exported as {cell:?}"
            );
            assert_eq!(unescape_text(&cell), text);
        }
        assert_eq!(escape_text("=1+2"), "'=1+2");
        // A quote typed by hand before ordinary text is kept.
        assert_eq!(unescape_text("'Kölsch'"), "'Kölsch'");
    }
}
