//! The API contract: `/api/openapi.json` from the real server documents every JSON route and
//! is a valid OpenAPI 3 document whose references all resolve.

mod common;

use std::collections::BTreeSet;

use serde_json::Value;

use common::spawn_app;

/// Every route of the router that is part of the API contract (method, path template). The
/// browser pages (`/`, `/tags/{tag}`, `/drivers/{name}`, `/sources`, `/upload`, `/analyze`,
/// `/assets/...`) serve HTML and are deliberately not in it. Adding a JSON route means adding
/// it here and documenting it.
const API_ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/tags/{tag}"),
    ("get", "/api/v1/search"),
    ("get", "/api/v1/drivers/{name}"),
    ("get", "/api/v1/lists"),
    ("post", "/api/v1/lists"),
    ("delete", "/api/v1/lists/{name}"),
    ("get", "/api/v1/lists/{name}/export"),
    ("get", "/api/v1/causes"),
    ("post", "/api/v1/causes"),
    ("get", "/api/v1/causes/export"),
    ("delete", "/api/v1/causes/{name}"),
    ("post", "/api/v1/drivers"),
    ("delete", "/api/v1/drivers/sha256/{sha256}"),
    ("post", "/api/v1/analyze"),
    ("post", "/api/v1/hosts/{host}/snapshots"),
    ("post", "/api/v1/hosts/{host}/tokens"),
    ("get", "/api/v1/hosts"),
    ("get", "/api/v1/hosts/{host}"),
    ("get", "/api/v1/fleet"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/openapi.json"),
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn fetch_document() -> Value {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(common::TOKEN)).await;
    let response = app.get("/api/openapi.json").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let document: Value = response.json().await.expect("the document is JSON");
    app.stop().await;
    document
}

#[tokio::test]
async fn every_api_route_is_documented_and_nothing_else() {
    let document = fetch_document().await;
    let paths = document["paths"].as_object().expect("paths is an object");
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().expect("a path item is an object");
            METHODS
                .iter()
                .filter(|m| item.contains_key(**m))
                .map(move |m| ((*m).to_owned(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = API_ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let missing: Vec<_> = expected.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&expected).collect();
    assert!(missing.is_empty(), "routes not documented: {missing:?}");
    assert!(
        extra.is_empty(),
        "documented operations the router does not have: {extra:?}"
    );
}

/// The list above matches the router: each route exists with its method (a method it lacks
/// answers 405 naming the allowed ones, an unknown path 404).
#[tokio::test]
async fn the_route_list_matches_the_router() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(common::TOKEN)).await;
    for (method, template) in API_ROUTES {
        let path = template
            .replace("{tag}", "NtfF")
            .replace("{name}", "x")
            .replace("{host}", "web-1")
            .replace("{sha256}", &"0".repeat(64));
        let response = app.client.patch(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 405, "PATCH {path}");
        let allow = response.headers()["allow"].to_str().unwrap().to_owned();
        assert!(
            allow
                .split(',')
                .any(|m| m.trim().eq_ignore_ascii_case(method)),
            "{path} allows {allow}, not {method}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_document_is_valid_openapi_3() {
    let document = fetch_document().await;
    let version = document["openapi"].as_str().expect("openapi is a string");
    assert!(version.starts_with("3."), "openapi is {version}");
    assert!(document["info"]["title"].is_string());
    assert!(document["info"]["version"].is_string());

    // Every $ref points at something in the document.
    let mut refs = Vec::new();
    collect_refs(&document, &mut refs);
    assert!(!refs.is_empty(), "schemas are referenced");
    for reference in &refs {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{reference} is not a local reference"));
        assert!(
            document.pointer(pointer).is_some(),
            "{reference} does not resolve"
        );
    }

    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["admin_token"]["type"], "http");
    assert_eq!(schemes["admin_token"]["scheme"], "bearer");
    assert_eq!(schemes["ingest_token"]["scheme"], "bearer");

    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(operation) = item.get(*method) else {
                continue;
            };
            let responses = operation["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} has no responses"));
            assert!(!responses.is_empty(), "{method} {path} has no responses");
            // Path parameters are declared for every template segment.
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let name = segment.trim_matches(|c| c == '{' || c == '}');
                let declared = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true);
                assert!(declared, "{method} {path} does not declare {name}");
            }
            // Every error response is the one error shape.
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
            // Fleet samples name the ingest token, and the admin token beside it.
            if path == "/api/v1/hosts/{host}/snapshots" {
                assert_eq!(
                    operation["security"][0]["ingest_token"],
                    Value::Array(vec![])
                );
                assert_eq!(
                    operation["security"][1]["admin_token"],
                    Value::Array(vec![])
                );
                assert!(responses.contains_key("401"));
                continue;
            }
            // Writes name the admin token.
            if ["post", "delete"].contains(method) && path != "/api/v1/analyze" {
                assert_eq!(
                    operation["security"][0]["admin_token"],
                    Value::Array(vec![]),
                    "{method} {path} needs the admin token"
                );
                assert!(responses.contains_key("401") && responses.contains_key("403"));
            }
        }
    }

    let error = &document["components"]["schemas"]["ErrorDetail"];
    let required: BTreeSet<&str> = error["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, BTreeSet::from(["code", "message"]));
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "$ref"
                    && let Some(reference) = value.as_str()
                {
                    out.push(reference.to_owned());
                } else {
                    collect_refs(value, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Errors outside the handlers (unknown routes, wrong methods, undecodable paths) use the
/// same JSON shape under `/api`.
#[tokio::test]
async fn router_level_errors_use_the_error_shape() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(dir.path(), Some(common::TOKEN)).await;
    for (method, path, status) in [
        ("GET", "/api/v1/nothing-here", 404),
        ("PUT", "/api/v1/search", 405),
        ("GET", "/api/v1/tags/%FF", 400),
        ("GET", "/api/v1/drivers/%C3%28", 400),
    ] {
        let response = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["code"].is_string(), "{method} {path}: {body}");
        assert!(
            body["error"]["message"].is_string(),
            "{method} {path}: {body}"
        );
    }
    app.stop().await;
}

/// A request that outlives the request timeout gets 408 in the error shape, not an empty body.
#[tokio::test]
async fn timeouts_use_the_error_shape() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().unwrap();
    let app = common::spawn_app_with(
        dir.path(),
        poolsleuth::http::HttpConfig {
            admin_token: Some(common::TOKEN.to_owned()),
            request_timeout: std::time::Duration::from_millis(300),
            ..Default::default()
        },
    )
    .await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    // Promise a body and never finish it.
    let head = format!(
        "POST /api/v1/lists?name=slow HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nNtfF - ntfs.sys",
        common::TOKEN
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buffer))
                .await
                .expect("the server answers before the test gives up")
                .unwrap();
        if read == 0 {
            break;
        }
        response.extend_from_slice(&buffer[..read]);
        if response.windows(4).any(|w| w == b"\r\n\r\n") && response.ends_with(b"}}") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{text}"
    );
    assert!(text.contains(r#""code":"timeout""#), "{text}");
    drop(stream);
    app.stop().await;
}

/// The document says what the answers carry since issue 26: the export's headers, the ways
/// to upload drivers in an analysis and in a search's next steps.
#[tokio::test]
async fn the_document_describes_export_headers_and_the_upload_ways() {
    let document = fetch_document().await;
    let headers =
        &document["paths"]["/api/v1/lists/{name}/export"]["get"]["responses"]["200"]["headers"];
    for name in [
        "poolsleuth-source",
        "poolsleuth-source-kind",
        "poolsleuth-source-version",
        "poolsleuth-source-imported-at",
        "poolsleuth-source-entries",
    ] {
        assert!(headers.get(name).is_some(), "{name}: {headers:#}");
    }
    let schemas = &document["components"]["schemas"];
    for field in ["page", "powershell", "poolsleuth_exe", "poolsleuth"] {
        assert!(
            schemas["DriverUpload"]["properties"].get(field).is_some(),
            "{:#}",
            schemas["DriverUpload"]
        );
    }
    assert!(
        schemas["Analysis"]["properties"]
            .get("driver_upload")
            .is_some(),
        "{:#}",
        schemas["Analysis"]
    );
    let next_step = serde_json::to_string(&schemas["NextStep"]).unwrap();
    assert!(next_step.contains("powershell"), "{next_step}");
    assert!(next_step.contains("poolsleuth_exe"), "{next_step}");
}
