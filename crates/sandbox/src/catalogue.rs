//! A deterministic German catalogue and order book, computed per index instead of stored:
//! 100,000 products cost nothing until they are read.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const BRANDS: &[&str] = &[
    "Nordwald",
    "Alpenglück",
    "Hafenkontor",
    "Lindenhof",
    "Elbstrand",
    "Schwarzwaldhaus",
    "Bergkristall",
    "Rheingold",
    "Ostseeperle",
    "Donaugarten",
    "Heidekraut",
    "Isarwerk",
];

/// (category, noun, material or variant words, price range in cents)
type ProductKind = (
    &'static str,
    &'static str,
    &'static [&'static str],
    (i64, i64),
);
const PRODUCTS: &[ProductKind] = &[
    (
        "Küche",
        "Edelstahl-Topfset",
        &["5-teilig", "8-teilig", "induktionsgeeignet"],
        (4_999, 24_999),
    ),
    (
        "Küche",
        "Gusseisenpfanne",
        &["24 cm", "28 cm", "emailliert"],
        (2_999, 8_999),
    ),
    (
        "Küche",
        "Kochmesser",
        &["Damaszener Stahl", "20 cm", "mit Holzgriff"],
        (1_999, 14_999),
    ),
    (
        "Lebensmittel",
        "Bio-Kaffeebohnen",
        &["1 kg", "500 g", "Espresso-Röstung"],
        (899, 3_499),
    ),
    (
        "Lebensmittel",
        "Grüner Tee",
        &["lose, 250 g", "Sencha", "aus Japan"],
        (699, 2_999),
    ),
    (
        "Lebensmittel",
        "Waldhonig",
        &["500 g", "cremig", "aus der Region"],
        (599, 1_899),
    ),
    (
        "Haushalt",
        "Baumwoll-Handtuch",
        &["70 x 140 cm", "4er-Set", "anthrazit"],
        (1_299, 4_999),
    ),
    (
        "Haushalt",
        "Bettwäsche",
        &["Satin, 135 x 200 cm", "Leinen", "Renforcé"],
        (2_999, 11_999),
    ),
    (
        "Garten",
        "Hochbeet",
        &["Lärchenholz", "120 x 80 cm", "mit Abdeckung"],
        (7_999, 29_999),
    ),
    (
        "Garten",
        "Gartenschlauch",
        &["20 m", "30 m", "knickfest"],
        (1_999, 6_999),
    ),
    (
        "Sport",
        "Yogamatte",
        &["rutschfest", "6 mm", "aus Naturkautschuk"],
        (1_999, 7_999),
    ),
    (
        "Sport",
        "Trinkflasche",
        &["Edelstahl, 750 ml", "isoliert", "auslaufsicher"],
        (1_299, 3_999),
    ),
    (
        "Elektronik",
        "Bluetooth-Lautsprecher",
        &["wasserdicht", "20 W", "mit Akku"],
        (2_999, 14_999),
    ),
    (
        "Elektronik",
        "USB-C-Ladegerät",
        &["65 W", "2 Anschlüsse", "GaN"],
        (1_499, 5_999),
    ),
    (
        "Büro",
        "Notizbuch",
        &["A5, dotted", "Hardcover", "Recyclingpapier"],
        (599, 2_499),
    ),
    (
        "Büro",
        "Schreibtischlampe",
        &["LED, dimmbar", "Messing", "mit USB-Port"],
        (2_499, 8_999),
    ),
    (
        "Mode",
        "Merino-Socken",
        &["3er-Pack", "Größe 39–42", "Größe 43–46"],
        (1_499, 3_999),
    ),
    (
        "Mode",
        "Regenjacke",
        &["wasserdicht", "Größe M", "Größe L"],
        (4_999, 19_999),
    ),
    (
        "Kinder",
        "Holzeisenbahn",
        &["45-teilig", "ab 3 Jahren", "aus Buchenholz"],
        (2_999, 9_999),
    ),
    (
        "Haustier",
        "Hundebett",
        &["Größe L", "waschbar", "orthopädisch"],
        (3_499, 12_999),
    ),
];

const FIRST_NAMES: &[&str] = &[
    "Anna", "Lukas", "Marie", "Jonas", "Sophie", "Leon", "Emma", "Felix", "Mia", "Paul", "Lena",
    "Jan", "Hannah", "Tim", "Laura", "Max", "Julia", "Finn", "Lea", "Jürgen",
];
const LAST_NAMES: &[&str] = &[
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
];
const CITIES: &[(&str, &str)] = &[
    ("Berlin", "10115"),
    ("Hamburg", "20095"),
    ("München", "80331"),
    ("Köln", "50667"),
    ("Frankfurt am Main", "60311"),
    ("Stuttgart", "70173"),
    ("Düsseldorf", "40213"),
    ("Leipzig", "04109"),
    ("Dresden", "01067"),
    ("Nürnberg", "90402"),
    ("Bremen", "28195"),
];
const STREETS: &[&str] = &[
    "Hauptstraße",
    "Bahnhofstraße",
    "Gartenweg",
    "Lindenallee",
    "Schillerstraße",
    "Goethestraße",
    "Am Markt",
    "Kirchgasse",
    "Bergstraße",
    "Rosenweg",
];

/// How big the seeded shop is.
#[derive(Debug, Clone, Copy)]
pub struct CatalogueSize {
    pub products: usize,
    pub orders: usize,
}

/// One product of the seeded catalogue, before any push changed it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedProduct {
    pub index: usize,
    pub sku: String,
    pub title: String,
    pub description: String,
    pub brand: &'static str,
    pub category: &'static str,
    /// A valid EAN-13 with a German GS1 prefix.
    pub ean: String,
    pub price_cents: i64,
    pub stock: i64,
    /// How many pictures the product has (served by the sandbox as SVGs).
    pub image_count: usize,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedOrderStatus {
    Pending,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeedCustomer {
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub email: String,
    pub street: String,
    pub postal_code: &'static str,
    pub city: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeedLine {
    pub product_index: usize,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeedOrder {
    pub index: usize,
    /// Shopify-style running number, 1001 upwards.
    pub number: u64,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status: SeedOrderStatus,
    pub customer: SeedCustomer,
    pub lines: Vec<SeedLine>,
}

impl SeedOrder {
    pub fn total_cents(&self) -> i64 {
        self.lines
            .iter()
            .map(|l| l.quantity * l.unit_price_cents)
            .sum()
    }
}

/// A tenant's catalogue: the same seed, tenant and anchor always give the same shop.
#[derive(Debug, Clone)]
pub struct Catalogue {
    /// The sandbox's seed: alone it decides what each article is (SKU, title, EAN, ...),
    /// so that one merchant's shops at several vendors sell the same articles.
    seed: u64,
    /// Mixed into what differs per shop: prices, stock, dates, the order book.
    tenant: u64,
    size: CatalogueSize,
    /// "Now" for the order book: orders spread over the 90 days before it.
    anchor: DateTime<Utc>,
}

impl Catalogue {
    pub fn new(seed: u64, size: CatalogueSize, anchor: DateTime<Utc>) -> Self {
        Catalogue {
            seed,
            tenant: 0,
            size,
            anchor,
        }
    }

    /// The same articles, with the prices, stock and order book of the shop `tenant`.
    pub fn for_tenant(self, tenant: u64) -> Self {
        Catalogue { tenant, ..self }
    }

    pub fn products(&self) -> usize {
        self.size.products
    }

    pub fn orders(&self) -> usize {
        self.size.orders
    }

    /// The tenant's own stream for `kind` and `index`.
    fn rng(&self, kind: u64, index: usize) -> StdRng {
        stream(self.seed ^ self.tenant, kind, index)
    }

    /// The product at `index` (< `products()`): the article is the sandbox's (the same in
    /// every tenant's shop), its price, stock and dates are the tenant's.
    pub fn product(&self, index: usize) -> SeedProduct {
        let mut article = stream(self.seed, 1, index);
        let brand = *BRANDS.choose(&mut article).expect("not empty");
        let (category, noun, variants, (low, high)) =
            *PRODUCTS.choose(&mut article).expect("not empty");
        let variant = *variants.choose(&mut article).expect("not empty");
        let ean = ean13(
            400 + (index % 40) as u64,
            article.gen_range(0..1_000_000_000),
        );
        let image_count = article.gen_range(1..=3);
        let mut rng = self.rng(3, index);
        let euros = rng.gen_range(low..=high) / 100;
        let price_cents = euros * 100 + [99, 95, 49, 90][rng.gen_range(0..4)];
        let stock = if rng.gen_bool(0.08) {
            0
        } else {
            rng.gen_range(1..=250)
        };
        let created_at = self.anchor - Duration::days(400) + Duration::minutes(index as i64);
        let updated_at = created_at + Duration::hours(rng.gen_range(0..24 * 300));
        SeedProduct {
            index,
            sku: format!("SM-{:02}-{:06}", category_code(category), index + 1),
            title: format!("{brand} {noun}, {variant}"),
            description: format!(
                "<p>{noun} von {brand} ({variant}). Sorgfältig ausgewählt, langlebig verarbeitet \
                 und schnell aus Deutschland versandt.</p><ul><li>Kategorie: {category}</li>\
                 <li>Lieferzeit: 1–3 Werktage</li></ul>"
            ),
            brand,
            category,
            ean,
            price_cents,
            stock,
            image_count,
            created_at,
            updated_at: updated_at.min(self.anchor),
        }
    }

    /// The order at `index` (< `orders()`); orders are in the order they were placed.
    pub fn order(&self, index: usize) -> SeedOrder {
        let mut rng = self.rng(2, index);
        let span = Duration::days(90).num_seconds();
        let step = span / self.size.orders.max(1) as i64;
        let placed_at = self.anchor - Duration::seconds(span)
            + Duration::seconds(step * index as i64 + rng.gen_range(0..step.max(1)));
        let age = self.anchor - placed_at;
        let status = match rng.gen_range(0..100) {
            0..=2 => SeedOrderStatus::Cancelled,
            3..=4 => SeedOrderStatus::Refunded,
            _ if age < Duration::days(1) => {
                if rng.gen_bool(0.3) {
                    SeedOrderStatus::Pending
                } else {
                    SeedOrderStatus::Paid
                }
            }
            _ if age < Duration::days(4) => SeedOrderStatus::Shipped,
            _ => SeedOrderStatus::Delivered,
        };
        let updated_at =
            (placed_at + Duration::minutes(rng.gen_range(0..60 * 72))).min(self.anchor);
        let first_name = *FIRST_NAMES.choose(&mut rng).expect("not empty");
        let last_name = *LAST_NAMES.choose(&mut rng).expect("not empty");
        let (city, postal_code) = *CITIES.choose(&mut rng).expect("not empty");
        let lines = (0..rng.gen_range(1..=3))
            .map(|_| {
                let product_index = rng.gen_range(0..self.size.products.max(1));
                SeedLine {
                    product_index,
                    quantity: rng.gen_range(1..=3),
                    unit_price_cents: self.product(product_index).price_cents,
                }
            })
            .collect();
        SeedOrder {
            index,
            number: 1001 + index as u64,
            placed_at,
            updated_at,
            status,
            customer: SeedCustomer {
                first_name,
                last_name,
                email: format!(
                    "{}.{}{}@example.de",
                    ascii(first_name),
                    ascii(last_name),
                    index
                ),
                street: format!(
                    "{} {}",
                    STREETS.choose(&mut rng).expect("not empty"),
                    rng.gen_range(1..120)
                ),
                postal_code,
                city,
            },
            lines,
        }
    }
}

/// A random stream for (`seed`, `kind`, `index`), SplitMix-style mixed so that
/// neighbouring indices get unrelated streams.
fn stream(seed: u64, kind: u64, index: usize) -> StdRng {
    let mut z = seed ^ kind.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (index as u64);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    StdRng::seed_from_u64(z ^ (z >> 31))
}

fn category_code(category: &str) -> u8 {
    PRODUCTS
        .iter()
        .position(|(c, ..)| *c == category)
        .unwrap_or(0) as u8
}

/// Umlauts spelled out, for email local parts.
fn ascii(name: &str) -> String {
    name.to_lowercase()
        .replace('ä', "ae")
        .replace('ö', "oe")
        .replace('ü', "ue")
        .replace('ß', "ss")
}

/// An EAN-13 from a 3-digit GS1 prefix and 9 digits, with its check digit.
fn ean13(prefix: u64, body: u64) -> String {
    let digits = format!("{prefix:03}{body:09}");
    let sum: u32 = digits
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{digits}{}", (10 - sum % 10) % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        Catalogue::new(
            7,
            CatalogueSize {
                products: 1_000,
                orders: 500,
            },
            Utc::now(),
        )
    }

    #[test]
    fn the_same_index_gives_the_same_product() {
        let c = catalogue();
        assert_eq!(c.product(17), c.product(17));
        assert_ne!(c.product(17).sku, c.product(18).sku);
    }

    #[test]
    fn every_tenant_sells_the_same_articles_at_its_own_prices() {
        let a = catalogue().for_tenant(1);
        let b = catalogue().for_tenant(2);
        let (mut prices_differ, mut stock_differs) = (false, false);
        for i in 0..50 {
            let (pa, pb) = (a.product(i), b.product(i));
            assert_eq!(
                (
                    &pa.sku,
                    &pa.title,
                    pa.brand,
                    pa.category,
                    &pa.ean,
                    &pa.description
                ),
                (
                    &pb.sku,
                    &pb.title,
                    pb.brand,
                    pb.category,
                    &pb.ean,
                    &pb.description
                )
            );
            assert_eq!(pa.image_count, pb.image_count);
            prices_differ |= pa.price_cents != pb.price_cents;
            stock_differs |= pa.stock != pb.stock;
        }
        assert!(
            prices_differ && stock_differs,
            "offers are the tenant's own"
        );
        assert_ne!(a.order(3), b.order(3), "so is the order book");
    }

    #[test]
    fn seeded_orders_sell_articles_of_the_catalogue() {
        let c = catalogue();
        for i in 0..c.orders() {
            for line in c.order(i).lines {
                assert!(line.product_index < c.products());
                assert_eq!(
                    line.unit_price_cents,
                    c.product(line.product_index).price_cents
                );
            }
        }
    }

    #[test]
    fn eans_carry_a_valid_check_digit() {
        assert_eq!(ean13(400, 638_133_393), "4006381333931");
        let c = catalogue();
        for i in 0..100 {
            let ean = c.product(i).ean;
            assert_eq!(ean.len(), 13);
            assert!(ean.starts_with('4'));
        }
    }

    #[test]
    fn orders_spread_over_the_last_90_days_in_placing_order() {
        let c = catalogue();
        let first = c.order(0);
        let last = c.order(499);
        assert!(first.placed_at >= c.anchor - Duration::days(90));
        assert!(last.placed_at <= c.anchor);
        assert!(first.placed_at < c.order(1).placed_at);
        assert!(first.total_cents() > 0);
        assert!(first.updated_at >= first.placed_at);
    }
}
