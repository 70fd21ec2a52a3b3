//! Product pictures for the sandbox catalogue: small SVGs, one colour per product.

use axum::extract::Path;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::Sandbox;

pub fn router() -> Router<Sandbox> {
    Router::new().route("/_sandbox/images/{name}", get(image))
}

/// `/_sandbox/images/{anything}.svg`: a placeholder picture whose colour follows the name.
async fn image(Path(name): Path<String>) -> impl IntoResponse {
    let hue = crate::fnv1a(name.as_bytes()) % 360;
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="600" height="600" viewBox="0 0 600 600"><rect width="600" height="600" fill="hsl({hue},55%,70%)"/><circle cx="300" cy="270" r="140" fill="hsl({hue},55%,45%)"/><text x="300" y="520" font-family="sans-serif" font-size="36" text-anchor="middle" fill="#fff">Sandbox</text></svg>"##
    );
    (
        [
            (http::header::CONTENT_TYPE, "image/svg+xml"),
            (http::header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        svg,
    )
}
