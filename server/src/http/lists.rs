//! The read endpoints: the environment's connections and endpoints, as
//! Novu lists them, never with a credential.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::auth::Authenticated;
use crate::http::error::{ApiError, Refusal};
use crate::state::AppState;
use crate::store::{ConnectionRow, EndpointRow, Filter};

/// The list endpoints' query (Novu's names).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListQuery {
    subscriber_id: Option<String>,
    connection_identifier: Option<String>,
    integration_identifier: Option<String>,
    limit: Option<i64>,
    page: Option<i64>,
}

impl ListQuery {
    fn filter(self) -> Filter {
        let limit = self.limit.unwrap_or(10).clamp(1, 100);
        Filter {
            subscriber_id: self.subscriber_id,
            connection_identifier: self.connection_identifier,
            integration_identifier: self.integration_identifier,
            limit,
            offset: self.page.unwrap_or(0).clamp(0, 1_000_000) * limit,
        }
    }
}

/// A page of the environment's connections.
pub(super) async fn list_connections(
    State(s): State<Arc<AppState>>,
    Authenticated(env): Authenticated,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = q.filter();
    let rows = s.connections.list_connections(env.id(), &filter).await?;
    let data: Vec<Value> = rows.iter().map(connection_json).collect::<Result<_, _>>()?;
    Ok(page(data, &filter))
}

/// A page of the environment's endpoints.
pub(super) async fn list_endpoints(
    State(s): State<Arc<AppState>>,
    Authenticated(env): Authenticated,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = q.filter();
    let rows = s.endpoints.list_endpoints(env.id(), &filter).await?;
    let data: Vec<Value> = rows.iter().map(endpoint_json).collect::<Result<_, _>>()?;
    Ok(page(data, &filter))
}

fn page(data: Vec<Value>, filter: &Filter) -> Json<Value> {
    let (page, limit) = (filter.offset / filter.limit, filter.limit);
    Json(json!({ "data": data, "page": page, "pageSize": limit }))
}

/// A connection as the API answers it.
fn connection_json(row: &ConnectionRow) -> Result<Value, ApiError> {
    serde_json::to_value(&row.connection).map_err(|_| ApiError::Internal("encode connection"))
}

/// An endpoint as the API answers it, with its identifier.
fn endpoint_json(row: &EndpointRow) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(&row.endpoint).map_err(|_| ApiError::Internal("encode endpoint"))?;
    if let Value::Object(fields) = &mut v {
        fields.insert("identifier".into(), Value::String(row.identifier.clone()));
    }
    Ok(v)
}

/// One connection of the environment.
pub(super) async fn get_connection(
    State(s): State<Arc<AppState>>,
    Authenticated(env): Authenticated,
    Path(identifier): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let filter = Filter {
        connection_identifier: Some(identifier.clone()),
        limit: 1,
        ..Filter::default()
    };
    let mut found = s.connections.list_connections(env.id(), &filter).await?;
    match found.pop() {
        Some(c) => Ok(Json(json!({ "data": connection_json(&c)? }))),
        None => Err(ApiError::refused(
            Refusal::NotFound,
            format!("Channel connection not found: {identifier}"),
        )),
    }
}
