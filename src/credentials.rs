//! Backend keys that expire, fetched and refreshed before they do: `AssumeRoleWithWebIdentity`
//! at an STS endpoint (AWS, and the same call at Tencent's or MinIO's STS), or a container
//! credentials endpoint (EKS Pod Identity, ECS). Runs on a thread of its own; requests sign with
//! whichever set they load (`config::Live`), so a refresh never holds one up.
//!
//! Wire facts: AssumeRoleWithWebIdentity (STS API reference: `Action`, `Version=2011-06-15`,
//! `RoleArn`, `RoleSessionName`, `WebIdentityToken`, `DurationSeconds`; unsigned; answer
//! `Credentials/{AccessKeyId,SecretAccessKey,SessionToken,Expiration}`); container credential
//! provider (SDKs and Tools reference guide: GET with the token file's content as
//! `Authorization`; answer JSON `AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`).

use crate::config::{Config, KeySource, Keys, Live};
use crate::sign::Secret;
use crate::upstream::Upstream;
use crate::wire::Outbound;
use arc_swap::ArcSwap;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

/// The largest STS or credentials answer read.
const ANSWER_CAP: usize = 64 << 10;

/// Start the refresher: every second, each backend whose keys are due is fetched again; a failure
/// is retried with a growing wait while the keys in hand stay in use until they expire.
pub fn start(shared: Arc<ArcSwap<Config>>) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("credentials".into())
        .spawn(move || {
            let up = Upstream::new(4 * ANSWER_CAP);
            rt.block_on(async move {
                let mut failures = std::collections::HashMap::<String, u32>::new();
                loop {
                    let cfg = shared.load_full();
                    for b in &cfg.backends {
                        let Some(live) = &b.live else { continue };
                        let now = crate::dates::unix_now();
                        if !live.due(now) {
                            continue;
                        }
                        match fetch(&up, live).await {
                            Ok(keys) => {
                                tracing::info!(backend = %b.name, access_key = %keys.access_key, expires = keys.expires, "backend credentials fetched");
                                failures.remove(&b.name);
                                live.store(keys, crate::dates::unix_now());
                            }
                            Err(why) => {
                                let n = failures.entry(b.name.clone()).or_default();
                                *n += 1;
                                let wait = 1i64 << (*n).min(5);
                                tracing::warn!(backend = %b.name, error = %why, retry_in_secs = wait, "backend credentials not fetched");
                                live.retry_in(crate::dates::unix_now(), wait);
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            })
        })?;
    Ok(())
}

/// One fetch. Errors name what failed, never a token or a key.
pub async fn fetch(up: &Upstream, live: &Live) -> Result<Keys, String> {
    let e = &live.endpoint;
    // (the path is not logged: ECS names a credential by a path of its own)
    tracing::debug!(endpoint = %e.host, "fetching backend credentials");
    let mut out = Outbound {
        path: live.path.clone(),
        answer_cap: Some(ANSWER_CAP),
        ..Default::default()
    };
    out.headers.push(("host".into(), e.host.clone()));
    let body = match &live.source {
        KeySource::WebIdentity(w) => {
            // Read at every fetch: the kubelet rotates the projected token in place.
            let token = read_token(&w.token_file)?;
            let mut form = String::from("Action=AssumeRoleWithWebIdentity&Version=2011-06-15");
            let session = w.session_name.as_deref().unwrap_or("dialect-proxy");
            for (k, v) in [
                ("RoleArn", w.role_arn.as_str()),
                ("RoleSessionName", session),
                ("WebIdentityToken", token.as_str()),
            ] {
                form.push('&');
                form.push_str(k);
                form.push('=');
                form.push_str(&crate::encoding::uri_encode(v));
            }
            if let Some(d) = w.duration_secs {
                form.push_str(&format!("&DurationSeconds={d}"));
            }
            out.method = "POST".into();
            out.headers.push((
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
            out.headers
                .push(("content-length".into(), form.len().to_string()));
            Bytes::from(form)
        }
        KeySource::Container(c) => {
            out.method = "GET".into();
            if let Some(f) = &c.token_file {
                out.headers.push(("authorization".into(), read_token(f)?));
            }
            Bytes::new()
        }
    };
    let answer = up
        .exchange(e, &mut out, body, &|_: &mut Outbound| {})
        .await
        .map_err(|f| format!("{} unreachable: {f}", e.host))?;
    if answer.status != 200 {
        let code = crate::xml::parse_error(&answer.body).map(|p| p.code);
        return Err(format!(
            "{} answered {} {}",
            e.host,
            answer.status,
            code.unwrap_or_default()
        ));
    }
    match &live.source {
        KeySource::WebIdentity(_) => sts_keys(&answer.body),
        KeySource::Container(_) => container_keys(&answer.body),
    }
    .ok_or_else(|| format!("{} answered without usable credentials", e.host))
}

fn read_token(path: &str) -> Result<String, String> {
    let t = std::fs::read_to_string(path).map_err(|e| format!("token file {path}: {e}"))?;
    let t = t.trim();
    if t.is_empty() {
        return Err(format!("token file {path} is empty"));
    }
    Ok(t.to_string())
}

fn keys(ak: String, sk: String, token: String, expiration: &str) -> Option<Keys> {
    let expires = time::OffsetDateTime::parse(
        expiration.trim(),
        &time::format_description::well_known::Rfc3339,
    )
    .ok()?
    .unix_timestamp();
    (!ak.is_empty() && !sk.is_empty()).then(|| Keys {
        access_key: ak,
        secret: Secret::new(sk),
        session_token: (!token.is_empty()).then(|| Secret::new(token)),
        expires,
    })
}

/// `AssumeRoleWithWebIdentityResponse/.../Credentials`.
pub fn sts_keys(body: &[u8]) -> Option<Keys> {
    let one = |name| crate::xml::texts(body, name)?.into_iter().next();
    keys(
        one("AccessKeyId")?,
        one("SecretAccessKey")?,
        one("SessionToken")?,
        &one("Expiration")?,
    )
}

/// The container endpoint's JSON.
pub fn container_keys(body: &[u8]) -> Option<Keys> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct ContainerAnswer {
        access_key_id: String,
        secret_access_key: String,
        token: Option<String>,
        expiration: String,
    }
    let a: ContainerAnswer = serde_json::from_slice(body).ok()?;
    keys(
        a.access_key_id,
        a.secret_access_key,
        a.token.unwrap_or_default(),
        &a.expiration,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_and_container_answers_give_keys() {
        let sts = br#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<AssumeRoleWithWebIdentityResult><Credentials><SessionToken>TOK</SessionToken>
<SecretAccessKey>SK</SecretAccessKey><Expiration>2026-12-07T10:00:00Z</Expiration>
<AccessKeyId>ASIA1</AccessKeyId></Credentials></AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>"#;
        let k = sts_keys(sts).unwrap();
        assert_eq!((k.access_key.as_str(), k.expires), ("ASIA1", 1796637600));
        assert_eq!(k.session_token.unwrap().expose(), "TOK");
        let json = br#"{"AccessKeyId":"ASIA2","SecretAccessKey":"S","Token":"T","Expiration":"2026-12-07T10:00:00Z"}"#;
        assert_eq!(container_keys(json).unwrap().access_key, "ASIA2");
        assert!(container_keys(b"{}").is_none());
        assert!(sts_keys(b"<Error/>").is_none());
        // No secret in what a log line would show.
        let dbg = format!("{:?}", sts_keys(sts).unwrap());
        assert!(!dbg.contains("TOK") && !dbg.contains("SK\""));
    }
}
