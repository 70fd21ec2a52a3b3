//! The signed AVV as a PDF: A4 pages in Helvetica (a PDF standard font, so nothing is
//! embedded), the agreement's text, then the signature record.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
const BODY_SIZE: f32 = 10.0;

/// Who signed what, printed under the text.
pub struct SignatureBlock<'a> {
    pub heading: &'a str,
    pub lines: Vec<(&'a str, String)>,
}

#[derive(Clone, Copy)]
enum Style {
    Title,
    Heading,
    Body,
}

impl Style {
    fn size(self) -> f32 {
        match self {
            Style::Title => 15.0,
            Style::Heading => 11.5,
            Style::Body => BODY_SIZE,
        }
    }
    fn font(self) -> Name<'static> {
        match self {
            Style::Body => Name(b"F1"),
            _ => Name(b"F2"),
        }
    }
    fn leading(self) -> f32 {
        self.size() * 1.4
    }
}

/// Helvetica's advance widths (1/1000 em) for ASCII 32..=126, from Adobe's AFM.
const WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/// Width of `text` in points; bold is taken as 6 % wider, non-ASCII letters as an average glyph.
fn width(text: &str, style: Style) -> f32 {
    let units: u32 = text
        .chars()
        .map(|c| match c as u32 {
            32..=126 => u32::from(WIDTHS[c as usize - 32]),
            _ => 600,
        })
        .sum();
    let bold = if matches!(style, Style::Body) {
        1.0
    } else {
        1.06
    };
    units as f32 / 1000.0 * style.size() * bold
}

/// Text in WinAnsiEncoding (Windows-1252), the encoding of the standard fonts.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '‚' => 0x82,
            '„' => 0x84,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            _ => b'?',
        })
        .collect()
}

/// Splits a paragraph into lines that fit the text width.
fn wrap(text: &str, style: Style) -> Vec<String> {
    let max = PAGE_WIDTH - 2.0 * MARGIN;
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if width(&candidate, style) > max && !line.is_empty() {
            lines.push(std::mem::replace(&mut line, word.to_owned()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Lays out lines onto pages: each page is a list of (style, y, text).
struct Layout {
    pages: Vec<Vec<(Style, f32, String)>>,
    y: f32,
}

impl Layout {
    fn new() -> Self {
        Self {
            pages: vec![Vec::new()],
            y: PAGE_HEIGHT - MARGIN,
        }
    }

    fn line(&mut self, style: Style, text: String) {
        if self.y - style.leading() < MARGIN {
            self.pages.push(Vec::new());
            self.y = PAGE_HEIGHT - MARGIN;
        }
        self.y -= style.leading();
        self.pages
            .last_mut()
            .expect("at least one page")
            .push((style, self.y, text));
    }

    fn gap(&mut self, points: f32) {
        self.y -= points;
    }

    fn paragraph(&mut self, style: Style, text: &str) {
        for line in wrap(text, style) {
            self.line(style, line);
        }
        self.gap(4.0);
    }
}

/// Renders the agreement (Markdown-like: `# ` title, `## ` headings, blank-line paragraphs)
/// and the signature block.
pub fn render(title: &str, agreement: &str, signature: &SignatureBlock<'_>) -> Vec<u8> {
    let mut layout = Layout::new();
    for block in agreement
        .split("\n\n")
        .map(str::trim)
        .filter(|b| !b.is_empty())
    {
        if let Some(text) = block.strip_prefix("# ") {
            layout.paragraph(Style::Title, text);
            layout.gap(6.0);
        } else if let Some(text) = block.strip_prefix("## ") {
            layout.gap(4.0);
            layout.paragraph(Style::Heading, text);
        } else {
            layout.paragraph(Style::Body, block);
        }
    }
    layout.gap(16.0);
    layout.paragraph(Style::Heading, signature.heading);
    for (label, value) in &signature.lines {
        layout.paragraph(Style::Body, &format!("{label}: {value}"));
    }

    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.document_info(info)
        .title(TextStr(title))
        .producer(TextStr("ShopMarkets"));
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));

    let page_ids: Vec<Ref> = (0..layout.pages.len())
        .map(|i| Ref::new(6 + 2 * i as i32))
        .collect();
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(page_ids.len() as i32);
    let total = layout.pages.len();
    for (index, (lines, &page_id)) in layout.pages.iter().zip(&page_ids).enumerate() {
        let content_id = Ref::new(page_id.get() + 1);
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
        page.parent(tree);
        page.contents(content_id);
        page.resources()
            .fonts()
            .pair(Name(b"F1"), regular)
            .pair(Name(b"F2"), bold);
        page.finish();

        let mut content = Content::new();
        let footer = format!("{title} — {} / {total}", index + 1);
        for (style, y, text) in lines.iter().map(|(s, y, t)| (*s, *y, t.as_str())).chain([(
            Style::Body,
            MARGIN / 2.0,
            footer.as_str(),
        )]) {
            content.begin_text();
            content.set_font(style.font(), style.size());
            content.next_line(MARGIN, y);
            content.show(Str(&win_ansi(text)));
            content.end_text();
        }
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umlauts_and_quotes_map_to_win_ansi() {
        assert_eq!(
            win_ansi("Größe „A“ €"),
            vec![b'G', b'r', 0xf6, 0xdf, b'e', b' ', 0x84, b'A', 0x93, b' ', 0x80]
        );
        assert_eq!(win_ansi("🦀"), b"?");
    }

    #[test]
    fn long_paragraphs_wrap_within_the_margins() {
        let text = "Wort ".repeat(400);
        let lines = wrap(&text, Style::Body);
        assert!(lines.len() > 10);
        assert!(lines
            .iter()
            .all(|l| width(l, Style::Body) <= PAGE_WIDTH - 2.0 * MARGIN));
    }

    #[test]
    fn long_texts_flow_onto_more_pages() {
        let text = "Absatz mit etwas Text. ".repeat(40);
        let agreement = std::iter::repeat_n(text.as_str(), 30)
            .collect::<Vec<_>>()
            .join("\n\n");
        let pdf = render(
            "AVV",
            &agreement,
            &SignatureBlock {
                heading: "Signed",
                lines: vec![("Name", "Anna".into())],
            },
        );
        assert!(pdf.starts_with(b"%PDF-"));
        let doc = lopdf::Document::load_mem(&pdf).expect("a valid PDF");
        let pages = doc.get_pages().len();
        assert!(pages > 1, "{pages} page(s)");
        let last = doc.extract_text(&[pages as u32]).unwrap();
        assert!(last.contains("Name: Anna"), "{last}");
    }
}
