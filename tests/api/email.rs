//! E-mail end to end: raw MIME messages as real mail clients write them (multipart/alternative,
//! quoted-printable, base64, HTML only, encoded non-ASCII subjects) posted by a mail gateway,
//! answered over SMTP with STARTTLS and AUTH through a real SMTP server process (aiosmtpd) on
//! loopback, threaded under the request.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::fakes::smtp::{self, SmtpServer};
use crate::helpers::{Backend, TestApp, spawn_app_with};

pub(crate) const SECRET: &str = "gateway-shared-secret-0123";

pub(crate) async fn post_mail(app: &TestApp, integration: &str, raw: &str, auth: Option<(&str, &str)>) -> StatusCode {
    let mut req = app
        .raw()
        .post(format!("{}/webhooks/email/{integration}", app.base))
        .header("content-type", "message/rfc822")
        .body(raw.replace('\n', "\r\n"));
    match auth {
        Some(("header", secret)) => req = req.header("X-Taskbridge-Secret", secret),
        Some((user, secret)) => req = req.basic_auth(user, Some(secret)),
        None => {}
    }
    req.send().await.expect("sent").status()
}

/// Thunderbird-style: multipart/alternative, quoted-printable text, an RFC 2047 subject, a
/// quoted earlier message and a signature.
pub(crate) const ALTERNATIVE: &str = r#"Return-Path: <ana@example.org>
Message-ID: <c0ffee42-1@example.org>
Date: Mon, 23 Nov 2026 09:12:44 +0100
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
From: =?UTF-8?Q?Ana_P=C3=A9rez?= <ana@example.org>
To: tasks@taskbridge.example
Subject: =?UTF-8?Q?Re:_Zugang_f=C3=BCr_das_neue_B=C3=BCro_in_M=C3=BCnchen?=
In-Reply-To: <older-0@example.org>
References: <older-0@example.org>
Content-Type: multipart/alternative;
 boundary="------------AbCdEf0123456789"

This is a multi-part message in MIME format.
--------------AbCdEf0123456789
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: quoted-printable

Please set up badge access for the new Munich office before Friday, the =
movers arrive on Monday. It is urgent.

--=20
Ana P=C3=A9rez
Facilities

On 20.11.26 17:03, Bob wrote:
> Who handles the badges?
--------------AbCdEf0123456789
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

<html><body><p>Please set up badge access for the new Munich office before =
Friday</p></body></html>
--------------AbCdEf0123456789--
"#;

/// Outlook-style: HTML only, base64, Windows-1252 subject.
const HTML_ONLY: &str = r#"Message-ID: <AM0PR01MB1234@eurprd01.prod.outlook.com>
Date: Mon, 23 Nov 2026 10:00:00 +0000
From: "Chen, Li" <li.chen@example.net>
To: "Tasks" <tasks@taskbridge.example>
Subject: =?Windows-1252?Q?Invoice_export_=96_add_the_VAT_column?=
MIME-Version: 1.0
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: base64

PGh0bWw+PGJvZHk+PGRpdj5GaW5hbmNlIG5lZWRzIHRoZSBWQVQgY29sdW1uIGluIHRoZSBtb250aGx5
IGludm9pY2UgZXhwb3J0LjwvZGl2PjxkaXY+wqA8L2Rpdj48L2JvZHk+PC9odG1sPg==
"#;

const OUT_OF_OFFICE: &str = r#"Message-ID: <ooo-1@example.org>
From: ana@example.org
To: tasks@taskbridge.example
Subject: Automatic reply: Created task
Auto-Submitted: auto-replied

I am out of the office until Monday.
"#;

async fn email(backend: Backend) {
    let smtp = SmtpServer::start("tasks@taskbridge.example", "smtp-password-1").await;
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.extra_ca_file = Some(smtp::ca_file());
    })
    .await
    else {
        return;
    };
    let project = app.project("email").await;
    let created = app
        .post(
            &format!("/api/v1/projects/{project}/integrations"),
            json!({"type": "email", "settings": {"smtp_host": "localhost", "smtp_port": smtp.port, "tls": "starttls",
                   "smtp_user": "tasks@taskbridge.example", "from_address": "tasks@taskbridge.example"},
                   "secrets": {"inbound_secret": SECRET, "smtp_password": "smtp-password-1"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let integration = created.id();
    assert_eq!(created.body["secrets_set"], json!(["inbound_secret", "smtp_password"]));

    // Without the gateway's secret, or with a wrong one: 401 and nothing stored.
    assert_eq!(post_mail(&app, &integration, ALTERNATIVE, None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(post_mail(&app, &integration, ALTERNATIVE, Some(("header", "wrong"))).await, StatusCode::UNAUTHORIZED);
    assert_eq!(post_mail(&app, &integration, ALTERNATIVE, Some(("gateway", "wrong"))).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/v1/jobs").await.body["items"], json!([]));
    // Not mail at all: a clear 400.
    assert_eq!(
        post_mail(&app, &integration, "\u{0}\u{1}garbage", Some(("header", SECRET))).await,
        StatusCode::BAD_REQUEST
    );

    // Delivered twice by the gateway (it retries on timeouts): one task, one answer.
    assert_eq!(post_mail(&app, &integration, ALTERNATIVE, Some(("header", SECRET))).await, StatusCode::OK);
    assert_eq!(post_mail(&app, &integration, ALTERNATIVE, Some(("gateway", SECRET))).await, StatusCode::OK);
    let sent = smtp.wait_for(1).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let mail = &sent[0];
    assert_eq!(mail["tls"], true, "STARTTLS was used");
    assert_eq!(mail["auth"], true, "the client authenticated");
    assert_eq!(mail["mail_from"], "tasks@taskbridge.example");
    assert_eq!(mail["rcpt_tos"], json!(["ana@example.org"]));
    let data = mail["data"].as_str().expect("data");
    let reply = mail_parser::MessageParser::default().parse(data.as_bytes()).expect("a parseable reply");
    assert_eq!(reply.subject(), Some("Re: Zugang für das neue Büro in München"));
    assert_eq!(reply.in_reply_to().as_text(), Some("c0ffee42-1@example.org"));
    let references: Vec<String> =
        reply.references().as_text_list().expect("references").iter().map(|r| r.to_string()).collect();
    assert_eq!(references, ["older-0@example.org", "c0ffee42-1@example.org"]);
    assert_eq!(reply.header_raw("Auto-Submitted").map(str::trim), Some("auto-replied"));
    let body = reply.body_text(0).expect("a text body");
    assert!(body.starts_with("Created task “"), "{body}");

    let tasks = app.get("/api/v1/tasks").await.body;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(1), "{tasks}");
    let task = &tasks["items"][0];
    assert_eq!(task["priority"], "high");
    let description = task["description"].as_str().unwrap_or_default();
    assert!(description.contains("badge access for the new Munich office before Friday, the movers"), "{description}");
    assert!(!description.contains("Who handles the badges"), "the quoted reply is cut: {description}");
    assert!(!description.contains("Facilities"), "the signature is cut: {description}");
    assert!(description.contains("Ana Pérez"), "{description}");

    // HTML only, base64, a Windows-1252 subject; basic auth this time.
    assert_eq!(post_mail(&app, &integration, HTML_ONLY, Some(("gateway", SECRET))).await, StatusCode::OK);
    let sent = smtp.wait_for(2).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1]["rcpt_tos"], json!(["li.chen@example.net"]));
    let tasks = app.get("/api/v1/tasks").await.body;
    let texts: Vec<String> = tasks["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| format!("{} {}", t["title"], t["description"]))
        .collect();
    assert_eq!(texts.len(), 2);
    assert!(
        texts.iter().any(|t| t.contains("Invoice export – add the VAT column")
            && t.contains("Finance needs the VAT column in the monthly invoice export.")),
        "{texts:?}"
    );

    // An auto-reply is neither a request nor answered.
    assert_eq!(post_mail(&app, &integration, OUT_OF_OFFICE, Some(("header", SECRET))).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.get("/api/v1/tasks").await.body["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(smtp.received.lock().expect("lock").len(), 2);

    // Wrong SMTP credentials: the answer fails for good with the server's reason, readable.
    let patched = app
        .patch(
            &format!("/api/v1/projects/{project}/integrations/{integration}"),
            json!({"secrets": {"smtp_password": "not-the-password"}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let third = ALTERNATIVE.replace("c0ffee42-1@example.org", "c0ffee42-2@example.org").replace("badge", "parking");
    assert_eq!(post_mail(&app, &integration, &third, Some(("header", SECRET))).await, StatusCode::OK);
    let dead = crate::helpers::dead_jobs(&app).await;
    let error = dead["items"][0]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("AUTH") && error.contains("535"), "{dead} {}", app.get("/api/v1/jobs").await.body);
    assert!(!error.contains("not-the-password"), "no secret in errors: {error}");
    assert_eq!(smtp.received.lock().expect("lock").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_sqlite() {
    email(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_postgres() {
    email(Backend::Postgres).await;
}
