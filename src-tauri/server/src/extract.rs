//! axum's extractors with their rejections turned into the API's error body (400 with
//! `invalid_input`, 413 for an oversized body) instead of plain-text responses.

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// How long a JSON body (at most 64 KB) may take to arrive whole.
pub const JSON_BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// A JSON body.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        // Read as a JSON value first (axum's content-type, size and syntax checks), so numbers
        // can be read the way JSON Schema — and so the OpenAPI document — reads them. The whole
        // body within a deadline: a client trickling its 64 KB a byte at a time, just inside the
        // idle timeout, would hold the request for days.
        let read = axum::Json::<serde_json::Value>::from_request(req, state);
        let axum::Json(mut value) = tokio::time::timeout(JSON_BODY_DEADLINE, read).await.map_err(|_| {
            ApiError::new(twitcher_core::error::ErrorCode::RequestTimeout, format!("the request body did not arrive within {} s", JSON_BODY_DEADLINE.as_secs()))
        })??;
        integral_floats_as_integers(&mut value);
        serde_path_to_error::deserialize(value).map(Body).map_err(|e| {
            let path = e.path().to_string();
            let at = if path == "." { String::new() } else { format!("{path}: ") };
            ApiError::invalid(format!("the request body does not fit: {at}{}", e.into_inner()))
        })
    }
}

/// JSON Schema counts `3.0` as an integer (a number with no fractional part), serde's integer
/// types do not: a client that writes integers as floats (JavaScript, many JSON libraries) sends
/// what the document allows, so such numbers become integers before the body is read.
fn integral_floats_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // Within i64's range exactly (2^63 itself is not).
            if f.fract() == 0.0 && f >= -9_223_372_036_854_775_808.0 && f < 9_223_372_036_854_775_808.0 {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

/// A numeric id in the path.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(id) = Path::<i64>::from_request_parts(parts, state).await?;
        Ok(Id(id))
    }
}

/// Query parameters.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(Params(value))
    }
}

/// Two numeric ids in the path (`/api/playlists/{id}/items/{item_id}`).
pub struct Ids(pub i64, pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Ids {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((a, b)) = Path::<(i64, i64)>::from_request_parts(parts, state).await?;
        Ok(Ids(a, b))
    }
}

#[cfg(test)]
mod tests {
    use super::integral_floats_as_integers;
    use serde_json::json;

    #[test]
    fn integral_floats_become_integers_and_fractions_stay_numbers() {
        let mut v = json!({"a": 2585.0, "b": [1.0, 1.5, -3.0], "c": {"d": 1e300, "e": "2.0"}, "f": 9.223372036854776e18});
        integral_floats_as_integers(&mut v);
        assert_eq!(v, json!({"a": 2585, "b": [1, 1.5, -3], "c": {"d": 1e300, "e": "2.0"}, "f": 9.223372036854776e18}));
        assert!(v["a"].is_i64() && v["b"][0].is_i64() && v["c"]["d"].is_f64() && v["f"].is_f64());
    }
}
