//! CORS on the real server: none by default; listed origins get preflights answered and
//! may read answers (429s too) with credentials; others get nothing a browser would honour;
//! `*` never with credentials.

use reqwest::{Method, StatusCode};
use taskbridge::config::Config;
use taskbridge::limits::Setting;

use crate::helpers::{ADMIN_KEY, Backend, TestApp, each_backend, spawn_app_with};

const FRONT_END: &str = "https://app.example.com";

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.raw()
        .request(Method::OPTIONS, format!("{}/api/v1/tasks", app.base))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .expect("preflight")
}

async fn get_from(app: &TestApp, origin: &str) -> reqwest::Response {
    app.raw()
        .get(format!("{}/api/v1/projects", app.base))
        .header("origin", origin)
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("request")
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn no_origin_is_allowed_by_default(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |_| {}).await else { return };
    let res = preflight(&app, FRONT_END).await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    let res = get_from(&app, FRONT_END).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "access-control-allow-origin"), None);
}
each_backend!(no_origin_is_allowed_by_default);

async fn listed_origins_only(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.cors_origins = vec![FRONT_END.into(), "http://localhost:5173".into()];
        c.rate_limit = Setting(Some(0.2));
        c.rate_burst = Setting(Some(2.0));
    })
    .await
    else {
        return;
    };
    // The preflight is answered before authentication, for each listed origin.
    for origin in [FRONT_END, "http://localhost:5173"] {
        let res = preflight(&app, origin).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(header(&res, "access-control-allow-origin"), Some(origin));
        assert_eq!(header(&res, "access-control-allow-credentials"), Some("true"));
        let methods = header(&res, "access-control-allow-methods").unwrap_or_default().to_ascii_uppercase();
        assert!(methods.contains("POST") && methods.contains("PATCH") && methods.contains("DELETE"), "{methods}");
        let headers = header(&res, "access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
        assert!(headers.contains("authorization") && headers.contains("content-type"), "{headers}");
        assert_eq!(header(&res, "access-control-max-age"), Some("3600"));
    }

    // The actual request: readable by the listed origin, which may read Retry-After.
    let res = get_from(&app, FRONT_END).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "access-control-allow-origin"), Some(FRONT_END));
    let exposed = header(&res, "access-control-expose-headers").unwrap_or_default().to_ascii_lowercase();
    assert!(exposed.contains("retry-after") && exposed.contains("x-request-id"), "{exposed}");
    assert!(header(&res, "vary").unwrap_or_default().to_ascii_lowercase().contains("origin"));

    // Another origin: served (CORS binds browsers, not servers) but nothing lets a browser read it.
    let evil = "https://evil.example";
    let res = preflight(&app, evil).await;
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    let res = get_from(&app, evil).await;
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    // A look-alike is another origin.
    assert_eq!(
        header(&preflight(&app, "https://app.example.com.evil.example").await, "access-control-allow-origin"),
        None
    );

    // Over the rate limit, the 429 is readable too, so the front end can wait Retry-After.
    let res = get_from(&app, FRONT_END).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&res, "access-control-allow-origin"), Some(FRONT_END));
    assert!(header(&res, "retry-after").is_some());
}
each_backend!(listed_origins_only);

async fn any_origin_never_with_credentials(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.cors_origins = vec!["*".into()]).await else { return };
    let res = preflight(&app, "https://anywhere.example").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&res, "access-control-allow-credentials"), None);
    let res = get_from(&app, "https://anywhere.example").await;
    assert_eq!(header(&res, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&res, "access-control-allow-credentials"), None);
}
each_backend!(any_origin_never_with_credentials);

#[tokio::test]
async fn a_wrong_origin_stops_the_start() {
    for origins in [vec!["https://app.example.com/".to_string()], vec!["*".into(), FRONT_END.into()]] {
        let mut config = Config::for_tests("sqlite::memory:", ADMIN_KEY);
        config.cors_origins = origins.clone();
        let Err(e) = taskbridge::app::Application::build(&config).await else { panic!("{origins:?} was accepted") };
        assert!(e.to_string().starts_with("TASKBRIDGE_CORS_ORIGINS:"), "{e}");
    }
}
