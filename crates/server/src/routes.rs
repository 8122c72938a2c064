//! URL layout and the middleware every request passes through:
//! request id → trace span → metrics → authentication and Accept check →
//! handler (the release API under /api/v1 authenticates on its own, see
//! [`crate::api`]). Every TAXII path answers with and without its trailing slash
//! (taxii2-client polls `status/<id>` without one).

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::handlers::{self, Caller};
use crate::metrics::{EndpointLabels, RequestLabels};
use crate::{AppState, api, media};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn both(router: Router<AppState>, path: &str, route: MethodRouter<AppState>) -> Router<AppState> {
    let bare = path.trim_end_matches('/');
    router.route(path, route.clone()).route(bare, route)
}

/// The TAXII 2.1 service.
pub fn router(state: AppState) -> Router {
    let mut routes = Router::new();
    routes = both(routes, "/taxii2/", get(handlers::discovery));
    routes = both(routes, "/{api_root}/", get(handlers::api_root));
    routes = both(
        routes,
        "/{api_root}/status/{status_id}/",
        get(handlers::status),
    );
    routes = both(
        routes,
        "/{api_root}/collections/",
        get(handlers::collections),
    );
    routes = both(
        routes,
        "/{api_root}/collections/{collection_id}/",
        get(handlers::collection),
    );
    routes = both(
        routes,
        "/{api_root}/collections/{collection_id}/manifest/",
        get(handlers::manifest),
    );
    routes = both(
        routes,
        "/{api_root}/collections/{collection_id}/objects/",
        get(handlers::get_objects).post(handlers::add_objects),
    );
    routes = both(
        routes,
        "/{api_root}/collections/{collection_id}/objects/{object_id}/",
        get(handlers::get_object).delete(handlers::delete_object),
    );
    routes = both(
        routes,
        "/{api_root}/collections/{collection_id}/objects/{object_id}/versions/",
        get(handlers::versions),
    );
    routes
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        // Merged after the TAXII layers: /api/v1 has its own
        // authentication and JSON errors, and no TAXII Accept check.
        .merge(api::router(state.clone()))
        .merge(crate::ledger_api::router(state.clone()))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let request_id = request
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request_id = %request_id,
                    account = tracing::field::Empty,
                )
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// `GET /metrics` in the Prometheus text format.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(state): State<AppState>| async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                    )],
                    state.metrics.render(),
                )
            }),
        )
        .with_state(state)
}

async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let account = match state
        .authenticator
        .authenticate(state.store.as_ref(), authorization)
        .await
    {
        Ok(account) => account,
        Err(err) => return err.into_response(),
    };
    tracing::Span::current().record("account", account.name.as_str());
    let accept: Vec<&str> = request
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    let accept = (!accept.is_empty()).then(|| accept.join(","));
    if !media::accepts_taxii(accept.as_deref()) {
        return ApiError::NotAcceptable.into_response();
    }
    request.extensions_mut().insert(Caller(account));
    next.run(request).await
}

async fn record_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |path| path.as_str())
        .trim_end_matches('/')
        .to_owned();
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .durations
        .get_or_create(&EndpointLabels {
            endpoint: endpoint.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            endpoint,
            status: response.status().as_u16(),
        })
        .inc();
    response
}
