//! An embedded TrueType face: measures text, encodes it as glyph ids, and writes itself into
//! the PDF as a subset of just the glyphs used, with a map back to Unicode so the text can be
//! copied and searched.

use std::collections::BTreeMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Finish, Name, Pdf, Rect, Ref, Str};
use sha2::{Digest, Sha256};
use subsetter::GlyphRemapper;
use ttf_parser::{Face, GlyphId};

const IDENTITY: SystemInfo = SystemInfo {
    registry: Str(b"Adobe"),
    ordering: Str(b"Identity"),
    supplement: 0,
};

pub struct Font {
    /// PostScript name, e.g. `DejaVuSans-Bold`.
    name: &'static str,
    data: &'static [u8],
    face: Face<'static>,
    /// The glyphs used so far: original id → id in the subset (the CID written in the text).
    glyphs: GlyphRemapper,
    /// Subset id → the character it was used for (the ToUnicode map).
    chars: BTreeMap<u16, char>,
}

impl Font {
    /// `data` is a TrueType file shipped with the service, so failing to parse it is a bug.
    pub fn new(name: &'static str, data: &'static [u8]) -> Self {
        Self {
            name,
            data,
            face: Face::parse(data, 0).expect("the shipped font parses"),
            glyphs: GlyphRemapper::new(),
            chars: BTreeMap::new(),
        }
    }

    /// The glyph for `c`; `.notdef` (an empty box) when the face has none.
    fn glyph(&self, c: char) -> GlyphId {
        self.face.glyph_index(c).unwrap_or(GlyphId(0))
    }

    /// In thousandths of the font size, the unit PDF font metrics use.
    fn scaled(&self, font_units: f32) -> f32 {
        font_units * 1000.0 / f32::from(self.face.units_per_em())
    }

    fn advance(&self, glyph: GlyphId) -> f32 {
        self.scaled(f32::from(self.face.glyph_hor_advance(glyph).unwrap_or(0)))
    }

    /// Width of `text` in points at `size`.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let units: f32 = text.chars().map(|c| self.advance(self.glyph(c))).sum();
        units / 1000.0 * size
    }

    /// `text` as a string for the `Tj` operator: two-byte subset glyph ids (Identity-H).
    pub fn encode(&mut self, text: &str) -> Vec<u8> {
        let mut encoded = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let glyph = self.glyph(c);
            let cid = self.glyphs.remap(glyph.0);
            if glyph.0 != 0 {
                self.chars.entry(cid).or_insert(c);
            }
            encoded.extend_from_slice(&cid.to_be_bytes());
        }
        encoded
    }

    /// Writes the font (Type 0 font, CID font, descriptor, ToUnicode map, subset file) with
    /// `id` as the font's reference; allocates the other references with `next`.
    pub fn write(&self, pdf: &mut Pdf, id: Ref, next: &mut impl FnMut() -> Ref) {
        let (cid_font, descriptor, to_unicode, file) = (next(), next(), next(), next());
        let base = format!("{}+{}", self.subset_tag(), self.name);
        let base = Name(base.as_bytes());

        pdf.type0_font(id)
            .base_font(base)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid_font)
            .to_unicode(to_unicode);

        let widths: Vec<f32> = self
            .glyphs
            .remapped_gids()
            .map(|old| self.advance(GlyphId(old)))
            .collect();
        let mut cid = pdf.cid_font(cid_font);
        cid.subtype(CidFontType::Type2)
            .base_font(base)
            .system_info(IDENTITY)
            .font_descriptor(descriptor)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        cid.widths().consecutive(0, widths);
        cid.finish();

        let bbox = self.face.global_bounding_box();
        let ascent = self.scaled(f32::from(self.face.ascender()));
        pdf.font_descriptor(descriptor)
            .name(base)
            .flags(FontFlags::NON_SYMBOLIC)
            .bbox(Rect::new(
                self.scaled(f32::from(bbox.x_min)),
                self.scaled(f32::from(bbox.y_min)),
                self.scaled(f32::from(bbox.x_max)),
                self.scaled(f32::from(bbox.y_max)),
            ))
            .italic_angle(self.face.italic_angle())
            .ascent(ascent)
            .descent(self.scaled(f32::from(self.face.descender())))
            .cap_height(
                self.face
                    .capital_height()
                    .map_or(ascent, |h| self.scaled(f32::from(h))),
            )
            .stem_v(80.0)
            .font_file2(file);

        let mut cmap = UnicodeCmap::new(Name(b"Custom"), IDENTITY);
        for (&cid, &c) in &self.chars {
            cmap.pair(cid, c);
        }
        pdf.cmap(to_unicode, &cmap.finish())
            .name(Name(b"Custom"))
            .system_info(IDENTITY);

        let subset =
            subsetter::subset(self.data, 0, &self.glyphs).expect("the shipped font subsets");
        pdf.stream(file, &subset);
    }

    /// Six capital letters naming this subset (the PDF convention for embedded subsets).
    fn subset_tag(&self) -> String {
        let mut hash = Sha256::new();
        for glyph in self.glyphs.remapped_gids() {
            hash.update(glyph.to_be_bytes());
        }
        hash.finalize()[..6]
            .iter()
            .map(|b| char::from(b'A' + b % 26))
            .collect()
    }
}
