//! Confluence Cloud (REST v2, v1 where v2 has no equivalent): pages read and written in
//! storage format with optimistic versions, children followed across cursor pages, and
//! page addresses in their usual forms resolved to ids.

pub mod storage;

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::TrackerResult;
use crate::jobs::JobError;

pub struct Confluence {
    http: reqwest::Client,
    access: super::atlassian::Access,
    /// The REST root, ending in `/wiki`.
    base: String,
    /// Where people open pages, ending in `/wiki`.
    web: String,
}

/// A page at one version.
#[derive(Debug, Clone)]
pub struct Page {
    pub id: String,
    pub title: String,
    pub space_id: Option<String>,
    pub parent_id: Option<String>,
    pub version: i64,
    /// Who wrote this version (an account id) and when.
    pub version_by: String,
    pub version_when: String,
    pub body: String,
    pub url: String,
}

/// How a page address names the page.
#[derive(Debug, Clone, PartialEq)]
pub enum PageRef {
    Id(String),
    /// `/display/SPACE/Title` (Server-style addresses).
    Title {
        space: String,
        title: String,
    },
}

/// The page an address names: `…/pages/123/…`, `?pageId=123`, a `/x/…` tiny link, or
/// `/display/SPACE/Title`.
pub fn page_ref(url: &str) -> Option<PageRef> {
    let parsed = reqwest::Url::parse(url).ok()?;
    if let Some((_, id)) = parsed.query_pairs().find(|(k, _)| k == "pageId") {
        let numeric = !id.is_empty() && id.chars().all(|c| c.is_ascii_digit());
        return numeric.then(|| PageRef::Id(id.into_owned()));
    }
    let segments: Vec<String> =
        parsed.path_segments()?.map(|s| percent_decode(&s.replace('+', " "))).filter(|s| !s.is_empty()).collect();
    for (i, segment) in segments.iter().enumerate() {
        let next = segments.get(i + 1);
        match (segment.as_str(), next) {
            ("pages", Some(id)) if !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) => {
                return Some(PageRef::Id(id.clone()));
            }
            ("x", Some(tiny)) => return tiny_id(tiny).map(|id| PageRef::Id(id.to_string())),
            ("display", Some(space)) => {
                let title = segments.get(i + 2)?;
                return Some(PageRef::Title { space: space.clone(), title: title.clone() });
            }
            _ => {}
        }
    }
    None
}

/// A tiny link's page id: base64 (`-` and `_` for `/` and `+`) of the id's little-endian
/// bytes, with trailing zero bytes (`A`s) dropped.
fn tiny_id(tiny: &str) -> Option<u64> {
    use base64::Engine;
    let mut padded: String = tiny
        .chars()
        .map(|c| {
            if c == '-' {
                '/'
            } else if c == '_' {
                '+'
            } else {
                c
            }
        })
        .collect();
    while !padded.len().is_multiple_of(4) {
        padded.push('A');
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(padded.as_bytes()).ok()?;
    let bytes = &bytes[..bytes.iter().rposition(|&b| b != 0).map_or(0, |last| last + 1)];
    if bytes.is_empty() || bytes.len() > 8 {
        return None;
    }
    let mut le = [0u8; 8];
    le[..bytes.len()].copy_from_slice(bytes);
    Some(u64::from_le_bytes(le)).filter(|&id| id > 0)
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('&', "%26")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Confluence's errors (v2 `{"errors": [{"title", "detail"}]}`, v1 `{"message"}`) as one line.
fn readable(body: &Value) -> String {
    let v2: Vec<String> = body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let title = e["title"].as_str()?;
            Some(match e["detail"].as_str() {
                Some(detail) if !detail.is_empty() => format!("{title}: {detail}"),
                _ => title.to_string(),
            })
        })
        .collect();
    if !v2.is_empty() {
        return v2.join("; ");
    }
    body["message"].as_str().unwrap_or("no details").to_string()
}

/// How a versioned write ended.
#[derive(Debug, PartialEq)]
pub enum Written {
    Version(i64),
    /// Someone else wrote the page first: read it again and re-apply.
    Conflict,
}

impl Confluence {
    pub fn new(
        http: reqwest::Client,
        settings: &Map<String, Value>,
        secrets: &Map<String, Value>,
    ) -> Result<Self, JobError> {
        let access = super::atlassian::Access::new("confluence", "Confluence", settings, secrets)?;
        let wiki = |root: &str| if root.ends_with("/wiki") { root.to_string() } else { format!("{root}/wiki") };
        Ok(Confluence { http, base: wiki(&access.api), web: wiki(&access.site), access })
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.access
            .authorize(self.http.request(method, format!("{}{path}", self.base)))
            .header(reqwest::header::ACCEPT, "application/json")
    }

    async fn get(&self, path: &str) -> TrackerResult<Value> {
        super::send_json(self.request(Method::GET, path), "Confluence", path, readable).await
    }

    /// The page at its current version (or at `version`), with its storage body.
    pub async fn page(&self, id: &str, version: Option<i64>) -> TrackerResult<Page> {
        let mut path = format!("/api/v2/pages/{id}?body-format=storage");
        if let Some(v) = version {
            path.push_str(&format!("&version={v}"));
        }
        let page = self.get(&path).await?;
        let text = |v: &Value| v.as_str().map(str::to_string);
        let links = &page["_links"];
        let url = match (links["base"].as_str(), links["webui"].as_str()) {
            (Some(base), Some(webui)) => format!("{base}{webui}"),
            (None, Some(webui)) => format!("{}{webui}", self.web),
            _ => format!("{}/pages/viewpage.action?pageId={id}", self.web),
        };
        Ok(Page {
            id: text(&page["id"]).unwrap_or_else(|| id.to_string()),
            title: text(&page["title"]).unwrap_or_default(),
            space_id: text(&page["spaceId"]),
            parent_id: text(&page["parentId"]).filter(|_| page["parentType"].as_str().is_none_or(|t| t == "page")),
            version: page["version"]["number"]
                .as_i64()
                .ok_or_else(|| JobError::Retry(format!("Confluence page {id} came without a version")))?,
            version_by: text(&page["version"]["authorId"]).unwrap_or_default(),
            version_when: text(&page["version"]["createdAt"]).unwrap_or_default(),
            body: text(&page["body"]["storage"]["value"]).unwrap_or_default(),
            url,
        })
    }

    /// A page's child pages (id and title), in their order, across all cursor pages.
    pub async fn children(&self, id: &str) -> TrackerResult<Vec<(String, String)>> {
        let mut children = Vec::new();
        let mut path = format!("/api/v2/pages/{id}/children?limit=250");
        loop {
            let answer = self.get(&path).await?;
            children.extend(answer["results"].as_array().into_iter().flatten().filter_map(|c| {
                Some((c["id"].as_str()?.to_string(), c["title"].as_str().unwrap_or_default().to_string()))
            }));
            // `_links.next` starts with `/wiki`, which `base` already ends with.
            match answer["_links"]["next"].as_str() {
                Some(next) => path = next.strip_prefix("/wiki").unwrap_or(next).to_string(),
                None => return Ok(children),
            }
        }
    }

    /// Creates a page under `parent_id` in space `space_id`.
    pub async fn create_page(&self, space_id: &str, parent_id: &str, title: &str, body: &str) -> TrackerResult<Page> {
        let request = self.request(Method::POST, "/api/v2/pages").json(&json!({
            "spaceId": space_id, "status": "current", "title": title, "parentId": parent_id,
            "body": {"representation": "storage", "value": body},
        }));
        let created = super::send_json(request, "Confluence", "page creation", readable).await?;
        let id =
            created["id"].as_str().ok_or_else(|| JobError::Retry("Confluence created a page without id".into()))?;
        self.page(id, None).await
    }

    /// Deletes the page (Confluence moves it to the space's trash); one already gone is done.
    pub async fn delete_page(&self, id: &str) -> TrackerResult<()> {
        let request = self.request(Method::DELETE, &format!("/api/v2/pages/{id}"));
        super::deleted(super::send_json(request, "Confluence", "page deletion", readable).await)
    }

    /// The id of the page titled `title` in space `space` (v1 content search).
    pub async fn find_page(&self, space: &str, title: &str) -> TrackerResult<Option<String>> {
        let query = serde_urlencoded::to_string([("spaceKey", space), ("title", title), ("type", "page")])
            .map_err(|e| JobError::Permanent(e.to_string()))?;
        let found = self.get(&format!("/rest/api/content?{query}")).await?;
        Ok(found["results"].as_array().and_then(|r| r.first()).and_then(|p| p["id"].as_str()).map(String::from))
    }

    /// The page id an address names.
    pub async fn resolve(&self, url: &str) -> TrackerResult<Option<String>> {
        match page_ref(url) {
            Some(PageRef::Id(id)) => Ok(Some(id)),
            Some(PageRef::Title { space, title }) => self.find_page(&space, &title).await,
            None => Ok(None),
        }
    }

    /// Writes `body` (and `title`) as the version after `page.version`.
    pub async fn write(&self, page: &Page, title: &str, body: &str, message: &str) -> TrackerResult<Written> {
        let version = page.version + 1;
        let request = self.request(Method::PUT, &format!("/api/v2/pages/{}", page.id)).json(&json!({
            "id": page.id, "status": "current", "title": title,
            "body": {"representation": "storage", "value": body},
            "version": {"number": version, "message": message},
        }));
        let what = format!("Confluence update of page {}", page.id);
        let res = request.send().await.map_err(|e| crate::outbound::transport_failure(&what, e))?;
        let status = res.status();
        let headers = res.headers().clone();
        let answer: Value = res.json().await.unwrap_or(Value::Null);
        if status == StatusCode::CONFLICT {
            return Ok(Written::Conflict);
        }
        if !status.is_success() {
            return Err(super::failure(status, &headers, &what, "Confluence", readable(&answer)));
        }
        Ok(Written::Version(answer["version"]["number"].as_i64().unwrap_or(version)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_addresses_name_pages() {
        let id = |s: &str| Some(PageRef::Id(s.to_string()));
        assert_eq!(page_ref("https://acme.atlassian.net/wiki/spaces/OPS/pages/123456/Ops+tasks"), id("123456"));
        assert_eq!(page_ref("https://wiki.example.com/pages/viewpage.action?pageId=98765"), id("98765"));
        assert_eq!(
            page_ref("https://wiki.example.com/display/OPS/Sprint+42%20plan"),
            Some(PageRef::Title { space: "OPS".into(), title: "Sprint 42 plan".into() })
        );
        // Tiny links encode the id's little-endian bytes: 0x01E240 = 123456.
        assert_eq!(page_ref("https://acme.atlassian.net/wiki/x/QOIB"), id("123456"));
        assert_eq!(page_ref("https://acme.atlassian.net/wiki/spaces/OPS/overview"), None);
        assert_eq!(page_ref("not a url"), None);
    }

    #[test]
    fn errors_read_as_one_line() {
        let v2 =
            json!({"errors": [{"status": 409, "code": "CONFLICT", "title": "Version conflict", "detail": "stale"}]});
        assert_eq!(readable(&v2), "Version conflict: stale");
        assert_eq!(readable(&json!({"statusCode": 404, "message": "No content found"})), "No content found");
    }
}
