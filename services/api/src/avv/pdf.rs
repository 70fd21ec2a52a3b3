//! The signed AVV as a PDF: A4 pages, the agreement's text, then the signature record. Set
//! in DejaVu Sans (`assets/fonts`, Bitstream Vera licence), embedded as a subset, so names in
//! any European script (Czech, Polish, Greek, Cyrillic, ...) print and copy as themselves.

mod font;

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use self::font::Font;

const REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

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
    fn bold(self) -> bool {
        !matches!(self, Style::Body)
    }
    fn leading(self) -> f32 {
        self.size() * 1.4
    }
}

/// The two faces a document uses; they record the glyphs used as text is encoded.
struct Fonts {
    regular: Font,
    bold: Font,
}

impl Fonts {
    fn new() -> Self {
        Self {
            regular: Font::new("DejaVuSans", REGULAR),
            bold: Font::new("DejaVuSans-Bold", BOLD),
        }
    }

    fn of(&mut self, style: Style) -> &mut Font {
        if style.bold() {
            &mut self.bold
        } else {
            &mut self.regular
        }
    }

    fn width(&self, text: &str, style: Style) -> f32 {
        let font = if style.bold() {
            &self.bold
        } else {
            &self.regular
        };
        font.width(text, style.size())
    }
}

/// Splits a paragraph into lines that fit the text width.
fn wrap(fonts: &Fonts, text: &str, style: Style) -> Vec<String> {
    let max = PAGE_WIDTH - 2.0 * MARGIN;
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if fonts.width(&candidate, style) > max && !line.is_empty() {
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
struct Layout<'f> {
    fonts: &'f Fonts,
    pages: Vec<Vec<(Style, f32, String)>>,
    y: f32,
}

impl<'f> Layout<'f> {
    fn new(fonts: &'f Fonts) -> Self {
        Self {
            fonts,
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
        for line in wrap(self.fonts, text, style) {
            self.line(style, line);
        }
        self.gap(4.0);
    }
}

/// Renders the agreement (Markdown-like: `# ` title, `## ` headings, blank-line paragraphs)
/// and the signature block.
pub fn render(title: &str, agreement: &str, signature: &SignatureBlock<'_>) -> Vec<u8> {
    let mut fonts = Fonts::new();
    let mut layout = Layout::new(&fonts);
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

    let pages = layout.pages;

    let mut last = 0;
    let mut next = move || {
        last += 1;
        Ref::new(last)
    };
    let (catalog, tree, info, regular, bold) = (next(), next(), next(), next(), next());
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.document_info(info)
        .title(TextStr(title))
        .producer(TextStr("ShopMarkets"));

    let page_ids: Vec<(Ref, Ref)> = pages.iter().map(|_| (next(), next())).collect();
    pdf.pages(tree)
        .kids(page_ids.iter().map(|(page, _)| *page))
        .count(page_ids.len() as i32);
    let total = pages.len();
    for (index, (lines, &(page_id, content_id))) in pages.iter().zip(&page_ids).enumerate() {
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
            let name = if style.bold() { b"F2" } else { b"F1" };
            content.begin_text();
            content.set_font(Name(name), style.size());
            content.next_line(MARGIN, y);
            content.show(Str(&fonts.of(style).encode(text)));
            content.end_text();
        }
        pdf.stream(content_id, &content.finish());
    }
    // Last, once every glyph the pages use is known.
    fonts.regular.write(&mut pdf, regular, &mut next);
    fonts.bold.write(&mut pdf, bold, &mut next);
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_any_european_script_print_as_themselves() {
        let name = "Řehoř Żółć Ďurovič, Ελένη Παπαδοπούλου, Дмитрий „Größe“ €";
        let pdf = render(
            "AVV",
            "# Vertrag\n\nText.",
            &SignatureBlock {
                heading: "Unterzeichnet",
                lines: vec![("Name", name.into())],
            },
        );
        let text = pdf_extract::extract_text_from_mem(&pdf).expect("a valid PDF");
        assert!(text.contains(&format!("Name: {name}")), "{text}");
        // Only the glyphs used are embedded, not the whole 700 KB face.
        assert!(pdf.len() < 150_000, "{} bytes", pdf.len());
    }

    #[test]
    fn long_paragraphs_wrap_within_the_margins() {
        let text = "Wort ".repeat(400);
        let fonts = Fonts::new();
        let lines = wrap(&fonts, &text, Style::Body);
        assert!(lines.len() > 10);
        assert!(lines
            .iter()
            .all(|l| fonts.width(l, Style::Body) <= PAGE_WIDTH - 2.0 * MARGIN));
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
        let pages = pdf_extract::extract_text_from_mem_by_pages(&pdf).expect("a valid PDF");
        assert!(pages.len() > 1, "{} page(s)", pages.len());
        let last = pages.last().unwrap();
        assert!(last.contains("Name: Anna"), "{last}");
    }
}
