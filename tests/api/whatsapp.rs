//! WhatsApp through Twilio end to end: form posts signed as Twilio signs them (over the public
//! URL and the sorted fields), TwiML acknowledgements, one task and one reply through a local
//! fake of the Messages API — which rate-limits the first attempt — per message, however often
//! Twilio delivers it.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use taskbridge::channels::whatsapp::sign;

use crate::fakes::speech::fake_whisper;
use crate::fakes::twilio::fake_twilio;
use crate::helpers::{Backend, TestApp, each_backend, spawn_app_with};

pub(crate) const TOKEN: &str = "12345678901234567890123456789012";
pub(crate) const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";

pub(crate) fn message(sid: &str, body: &str) -> Vec<(String, String)> {
    [
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("ProfileName", "Ana Pérez"),
        ("MessageType", "text"),
        ("SmsSid", sid),
        ("WaId", "34600111222"),
        ("SmsStatus", "received"),
        ("Body", body),
        ("To", "whatsapp:+14155238886"),
        ("NumSegments", "1"),
        ("ReferralNumMedia", "0"),
        ("MessageSid", sid),
        ("AccountSid", ACCOUNT),
        ("From", "whatsapp:+34600111222"),
        ("ApiVersion", "2010-04-01"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A voice note without text, its audio at Twilio's media URL on `api`.
fn voice_note(sid: &str, api: &str) -> Vec<(String, String)> {
    let mut fields = message(sid, "");
    fields[1].1 = "1".into();
    fields[3].1 = "audio".into();
    fields.push(("MediaContentType0".into(), "audio/ogg".into()));
    fields.push(("MediaUrl0".into(), format!("{api}/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}/Media/ME{sid}")));
    fields
}

pub(crate) fn encode(fields: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish()
}

/// Posts `body` with `signature` (none when `None`).
pub(crate) async fn deliver(
    app: &TestApp,
    integration: &str,
    body: String,
    signature: Option<String>,
) -> (StatusCode, String) {
    let mut req = app
        .raw()
        .post(format!("{}/webhooks/whatsapp/{integration}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(signature) = signature {
        req = req.header("X-Twilio-Signature", signature);
    }
    let res = req.send().await.expect("sent");
    let status = res.status();
    let content_type = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let text = res.text().await.expect("text");
    if status == StatusCode::OK {
        assert!(content_type.starts_with("text/xml"), "TwiML answer expected, got {content_type}: {text}");
    }
    (status, text)
}

async fn whatsapp(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let (fake, seen) = fake_twilio().await;
    let project = app.project("whatsapp").await;
    let created = app
        .post(
            &format!("/api/v1/projects/{project}/integrations"),
            json!({"type": "whatsapp", "settings": {"api_base_url": fake, "account_sid": ACCOUNT,
                   "from_number": "+14155238886"}, "secrets": {"auth_token": TOKEN}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let integration = created.id();
    // Twilio signs the URL it was configured with: the public one.
    let url = created.body["webhook_url"].as_str().expect("webhook_url").to_string();
    assert!(url.starts_with("https://taskbridge.example/webhooks/whatsapp/"), "{url}");

    let fields = message("SM9f3b2c1d0e", "urgent: the checkout page shows a 500 error, please fix asap");
    let signature = sign(TOKEN, &url, &fields);

    // Refused: no signature, a wrong token, a tampered body, another URL. Nothing stored.
    assert_eq!(deliver(&app, &integration, encode(&fields), None).await.0, StatusCode::UNAUTHORIZED);
    let wrong = sign("another-token", &url, &fields);
    assert_eq!(deliver(&app, &integration, encode(&fields), Some(wrong)).await.0, StatusCode::UNAUTHORIZED);
    let mut tampered = fields.clone();
    tampered[7].1 = "delete the production database".into();
    assert_eq!(
        deliver(&app, &integration, encode(&tampered), Some(signature.clone())).await.0,
        StatusCode::UNAUTHORIZED
    );
    let elsewhere = sign(TOKEN, "https://attacker.example/webhooks/whatsapp/x", &fields);
    assert_eq!(deliver(&app, &integration, encode(&fields), Some(elsewhere)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/v1/jobs").await.body["items"], json!([]));
    assert_eq!(app.get("/api/v1/tasks").await.body["items"], json!([]));

    // Delivered twice (Twilio retries when an answer is slow): one task, one reply. The
    // field order on the wire does not matter; the signature covers the sorted fields.
    let mut reordered = fields.clone();
    reordered.reverse();
    let (status, twiml) = deliver(&app, &integration, encode(&fields), Some(signature.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(twiml.contains("<Response/>"), "{twiml}");
    assert_eq!(deliver(&app, &integration, encode(&reordered), Some(signature)).await.0, StatusCode::OK);

    for _ in 0..200 {
        if !seen.lock().expect("lock").sent.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (calls, sent) = {
        let fake = seen.lock().expect("lock");
        (fake.calls, fake.sent.clone())
    };
    assert_eq!(calls, 2, "rate-limited once, then sent once");
    assert_eq!(sent.len(), 1);
    let (account, auth, form) = &sent[0];
    assert_eq!(account, ACCOUNT);
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{TOKEN}"));
    assert_eq!(auth, &format!("Basic {basic}"));
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()).unwrap_or_default();
    assert_eq!(get("From"), "whatsapp:+14155238886");
    assert_eq!(get("To"), "whatsapp:+34600111222");
    assert!(get("Body").starts_with("Created task “"), "{form:?}");

    let tasks = app.get("/api/v1/tasks").await.body;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(1), "{tasks}");
    assert_eq!(tasks["items"][0]["priority"], "high");
    assert!(tasks["items"][0]["description"].as_str().unwrap_or_default().contains("Ana Pérez"), "{tasks}");

    // Without speech-to-text, a voice note without text is answered at once and creates nothing.
    let media = voice_note("SM00000000002", &fake);
    let signature = sign(TOKEN, &url, &media);
    let (status, twiml) = deliver(&app, &integration, encode(&media), Some(signature)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(twiml.contains("<Message>"), "{twiml}");
    assert_eq!(app.get("/api/v1/tasks").await.body["items"].as_array().map(Vec::len), Some(1));
}

/// With a transcription server, a voice note's audio is downloaded from Twilio (with the
/// account's credentials) and transcribed, and becomes a request.
async fn voice_notes_become_requests(backend: Backend) {
    let (whisper, heard) = fake_whisper().await;
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.transcribe_base_url = Some(whisper.clone());
    })
    .await
    else {
        return;
    };
    let (fake, seen) = fake_twilio().await;
    let project = app.project("whatsapp").await;
    let created = app
        .post(
            &format!("/api/v1/projects/{project}/integrations"),
            json!({"type": "whatsapp", "settings": {"api_base_url": fake, "account_sid": ACCOUNT,
                   "from_number": "+14155238886"}, "secrets": {"auth_token": TOKEN}}),
        )
        .await;
    let integration = created.id();
    let url = created.body["webhook_url"].as_str().expect("webhook_url").to_string();
    let note = voice_note("SM00000000003", &fake);
    let signature = sign(TOKEN, &url, &note);
    for _ in 0..2 {
        let (status, twiml) = deliver(&app, &integration, encode(&note), Some(signature.clone())).await;
        assert_eq!(status, StatusCode::OK);
        assert!(twiml.contains("<Response/>"), "acknowledged, answered later: {twiml}");
    }
    let mut tasks = Value::Null;
    for _ in 0..400 {
        tasks = app.get("/api/v1/tasks").await.body;
        if tasks["items"].as_array().is_some_and(|t| !t.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(1), "{tasks}");
    assert_eq!(tasks["items"][0]["title"], "Renew the TLS certificate of the billing API", "{tasks}");
    assert!(tasks["items"][0]["description"].as_str().unwrap_or_default().contains("Ana Pérez"), "{tasks}");
    let files: Vec<Vec<u8>> = heard.lock().expect("lock").iter().map(|(_, _, _, file)| file.clone()).collect();
    assert_eq!(files, [b"OggS-MESM00000000003".to_vec()], "heard once");
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{TOKEN}"));
    assert_eq!(seen.lock().expect("lock").media, [format!("Basic {basic}")]);

    // Media elsewhere than Twilio's API is fetched without the account's credentials.
    let (other, other_seen) = fake_twilio().await;
    let elsewhere = voice_note("SM00000000004", &other);
    let signature = sign(TOKEN, &url, &elsewhere);
    assert_eq!(deliver(&app, &integration, encode(&elsewhere), Some(signature)).await.0, StatusCode::OK);
    for _ in 0..400 {
        if !other_seen.lock().expect("lock").media.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(other_seen.lock().expect("lock").media, [String::new()]);
}
each_backend!(voice_notes_become_requests);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_webhooks_sqlite() {
    whatsapp(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_webhooks_postgres() {
    whatsapp(Backend::Postgres).await;
}
