//! The company profile and the data-processing agreement (AVV).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::{header, StatusCode};
use serde::{Deserialize, Serialize};
use sm_auth::AuthUser;
use sm_http::{ApiError, ClientInfo, FieldError, Json, Query};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::avv::{self, pdf, Language};
use crate::db;
use crate::db::avv::{NewSignature, SignatureRow};
use crate::domain::profile::{missing_fields, Profile, ProfileInput};
use crate::domain::text;
use crate::error::{Error, Result};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    pub company_name: String,
    pub street: String,
    pub postal_code: String,
    pub city: String,
    pub country: String,
    pub phone: String,
    pub vat_id: Option<String>,
    pub billing_email: String,
    pub billing_name: String,
    /// All required fields are filled in.
    pub profile_completed: bool,
    /// The required fields still empty.
    pub missing_fields: Vec<&'static str>,
    pub avv: AvvStatus,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AvvStatus {
    pub current_version: &'static str,
    /// The current version is signed: shops may be connected.
    pub signed: bool,
    pub signed_at: Option<DateTime<Utc>>,
}

async fn avv_status(state: &AppState, user_id: Uuid) -> Result<AvvStatus> {
    let signature = db::avv::find(&state.db, user_id, avv::CURRENT).await?;
    Ok(AvvStatus {
        current_version: avv::CURRENT,
        signed: signature.is_some(),
        signed_at: signature.map(|s| s.signed_at),
    })
}

async fn view(
    state: &AppState,
    user_id: Uuid,
    profile: Profile,
    updated_at: Option<DateTime<Utc>>,
) -> Result<ProfileView> {
    let missing = missing_fields(&profile);
    Ok(ProfileView {
        profile_completed: missing.is_empty(),
        missing_fields: missing,
        avv: avv_status(state, user_id).await?,
        company_name: profile.company_name,
        street: profile.street,
        postal_code: profile.postal_code,
        city: profile.city,
        country: profile.country,
        phone: profile.phone,
        vat_id: profile.vat_id,
        billing_email: profile.billing_email,
        billing_name: profile.billing_name,
        updated_at,
    })
}

/// The caller's company profile (empty until first saved).
#[utoipa::path(get, path = "/api/profile", tag = "profile",
    responses((status = 200, body = ProfileView), (status = 401, body = sm_http::ErrorBody), (status = 503, body = sm_http::ErrorBody)))]
pub async fn get_profile(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<ProfileView>> {
    let (profile, updated_at) = match db::profiles::find(&state.db, user.user_id).await? {
        Some(row) => {
            let updated_at = row.updated_at;
            (Profile::from(row), Some(updated_at))
        }
        None => (
            Profile::parse(&ProfileInput::default()).expect("the empty profile is valid"),
            None,
        ),
    };
    Ok(Json(view(&state, user.user_id, profile, updated_at).await?))
}

/// Saves the whole profile (fields left out are stored empty).
#[utoipa::path(put, path = "/api/profile", tag = "profile", request_body = ProfileInput,
    responses((status = 200, body = ProfileView), (status = 422, body = sm_http::ErrorBody)))]
pub async fn put_profile(
    State(state): State<AppState>,
    user: AuthUser,
    Json(input): Json<ProfileInput>,
) -> Result<Json<ProfileView>> {
    let profile = Profile::parse(&input).map_err(Error::validation)?;
    let updated_at = db::profiles::upsert(&state.db, user.user_id, &profile).await?;
    Ok(Json(
        view(&state, user.user_id, profile, Some(updated_at)).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LanguageQuery {
    /// `de` (binding, default) or `en` (translation).
    pub language: Option<Language>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignatureView {
    pub version: String,
    pub language: Language,
    /// SHA-256 (hex) of the exact text signed.
    pub text_sha256: String,
    pub signer_name: String,
    pub signer_role: String,
    pub company_name: String,
    pub signed_at: DateTime<Utc>,
}

impl From<SignatureRow> for SignatureView {
    fn from(s: SignatureRow) -> Self {
        SignatureView {
            language: Language::from_db(&s.language),
            version: s.version,
            text_sha256: s.text_sha256,
            signer_name: s.signer_name,
            signer_role: s.signer_role,
            company_name: s.company_name,
            signed_at: s.signed_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AvvView {
    pub version: &'static str,
    pub language: Language,
    /// The agreement (Markdown).
    pub text: &'static str,
    pub text_sha256: String,
    pub signed: bool,
    pub signature: Option<SignatureView>,
}

/// The current AVV, and whether and when the caller signed it.
#[utoipa::path(get, path = "/api/profile/avv", tag = "profile", params(LanguageQuery),
    responses((status = 200, body = AvvView), (status = 401, body = sm_http::ErrorBody)))]
pub async fn get_avv(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<LanguageQuery>,
) -> Result<Json<AvvView>> {
    let language = q.language.unwrap_or_default();
    let text = avv::text(avv::CURRENT, language).expect("the current version exists");
    let signature = db::avv::find(&state.db, user.user_id, avv::CURRENT).await?;
    Ok(Json(AvvView {
        version: avv::CURRENT,
        language,
        text,
        text_sha256: avv::sha256_hex(text),
        signed: signature.is_some(),
        signature: signature.map(Into::into),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SignAvvRequest {
    /// The version the signer read; must be the current one.
    pub version: String,
    /// The language of the text the signer read.
    #[serde(default)]
    pub language: Language,
    /// 1 to 200 characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub signer_name: String,
    /// e.g. Geschäftsführer, Inhaberin; 1 to 100 characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub signer_role: String,
    /// Must be true: the signer accepts the agreement.
    #[schema(schema_with = must_be_true)]
    pub accept: bool,
}

fn must_be_true() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::Boolean)
        .enum_values(Some([true]))
        .build()
}

/// Signs the current AVV for the caller's company. Idempotent per version: signing again
/// returns the first signature (200) instead of creating one (201).
#[utoipa::path(post, path = "/api/profile/avv-sign", tag = "profile", request_body = SignAvvRequest,
    responses((status = 201, body = SignatureView), (status = 200, description = "Already signed", body = SignatureView),
              (status = 409, description = "avv_version_outdated or profile_incomplete", body = sm_http::ErrorBody),
              (status = 422, body = sm_http::ErrorBody)))]
pub async fn sign_avv(
    State(state): State<AppState>,
    user: AuthUser,
    client: ClientInfo,
    Json(req): Json<SignAvvRequest>,
) -> Result<(StatusCode, Json<SignatureView>)> {
    if req.version != avv::CURRENT {
        return Err(ApiError::conflict(
            "avv_version_outdated",
            format!("Version {} is current; read and sign that.", avv::CURRENT),
        )
        .into());
    }
    let name = text::required("signer_name", &req.signer_name, 200);
    let role = text::required("signer_role", &req.signer_role, 100);
    let accept = if req.accept {
        Ok(())
    } else {
        Err(FieldError::new(
            "accept",
            "required",
            "Accept the agreement to sign it.",
        ))
    };
    let errors: Vec<FieldError> = [
        name.as_ref().err(),
        role.as_ref().err(),
        accept.as_ref().err(),
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    if let Some(existing) = db::avv::find(&state.db, user.user_id, avv::CURRENT).await? {
        return Ok((StatusCode::OK, Json(existing.into())));
    }
    let profile = db::profiles::find(&state.db, user.user_id)
        .await?
        .map(Profile::from);
    let company_name = match profile {
        Some(p) if missing_fields(&p).is_empty() => p.company_name,
        _ => {
            return Err(ApiError::conflict(
                "profile_incomplete",
                "Complete the company profile before signing.",
            )
            .into())
        }
    };
    let text = avv::text(avv::CURRENT, req.language).expect("the current version exists");
    let signature = db::avv::sign(
        &state.db,
        user.user_id,
        &NewSignature {
            version: avv::CURRENT,
            language: req.language.as_str(),
            text_sha256: &avv::sha256_hex(text),
            signer_name: &name?,
            signer_role: &role?,
            company_name: &company_name,
            ip: client.ip,
            user_agent: client.user_agent.as_deref(),
        },
    )
    .await?;
    tracing::info!(user_id = %user.user_id, version = avv::CURRENT, "AVV signed");
    Ok((StatusCode::CREATED, Json(signature.into())))
}

/// The signed current AVV as a PDF: the text signed and the signature record.
#[utoipa::path(get, path = "/api/profile/avv/pdf", tag = "profile",
    responses((status = 200, content_type = "application/pdf", description = "The signed agreement"),
              (status = 404, description = "avv_not_signed", body = sm_http::ErrorBody),
              (status = 500, description = "avv_text_mismatch: the shipped text is not the one signed", body = sm_http::ErrorBody)))]
pub async fn avv_pdf(State(state): State<AppState>, user: AuthUser) -> Result<Response> {
    let signature = db::avv::find(&state.db, user.user_id, avv::CURRENT)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "avv_not_signed",
                "The current AVV is not signed yet.",
            )
        })?;
    let language = Language::from_db(&signature.language);
    let text = avv::text(&signature.version, language)
        .ok_or_else(|| anyhow::anyhow!("AVV version {} is not shipped", signature.version))?;
    // A published text is never edited; if it was, this text is not what was signed, and a
    // PDF printing it beside the signed hash would misstate the agreement.
    if avv::sha256_hex(text) != signature.text_sha256 {
        tracing::error!(user_id = %user.user_id, version = %signature.version, language = language.as_str(),
            signed = %signature.text_sha256, shipped = %avv::sha256_hex(text),
            "the shipped AVV text differs from the text signed; refusing to print it");
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "avv_text_mismatch",
            "The agreement on file does not match the signed text, so no PDF is produced. Please contact support.",
        )
        .into());
    }
    let (heading, labels) = match language {
        Language::De => (
            "Unterzeichnet",
            [
                "Firma",
                "Name",
                "Funktion",
                "Zeitpunkt (UTC)",
                "Version",
                "SHA-256 des Textes",
                "IP-Adresse",
            ],
        ),
        Language::En => (
            "Signed",
            [
                "Company",
                "Name",
                "Role",
                "Time (UTC)",
                "Version",
                "SHA-256 of the text",
                "IP address",
            ],
        ),
    };
    let values = [
        signature.company_name.clone(),
        signature.signer_name.clone(),
        signature.signer_role.clone(),
        signature.signed_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        signature.version.clone(),
        signature.text_sha256.clone(),
        signature.ip.clone().unwrap_or_default(),
    ];
    let block = pdf::SignatureBlock {
        heading,
        lines: labels.into_iter().zip(values).collect(),
    };
    let title = format!("AVV {}", signature.version);
    // Laying out and subsetting the fonts takes a few milliseconds of CPU: off the async threads.
    let bytes = tokio::task::spawn_blocking(move || pdf::render(&title, text, &block))
        .await
        .map_err(anyhow::Error::from)?;
    let disposition = format!("attachment; filename=\"AVV-{}.pdf\"", signature.version);
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
