use super::file::parse_endpoint;
use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

const GOOD: &str = r#"
[server]
listen = ["127.0.0.1:0"]
[[clients]]
access_key = "AK"
secret_key = "SK"
[[backends]]
name = "g"
dialect = "s3"
endpoint = "http://127.0.0.1:3900"
region = "garage"
access_key = "GK"
secret_key = "GS"
[[routes]]
bucket = "cos-*"
backend = "g"
backend_bucket = "{bucket}-1250000000"
[[routes]]
bucket = "*"
backend = "g"
"#;

#[test]
fn timeouts_have_defaults_globals_and_per_backend_overrides() {
    let c = parse(GOOD, &no_env).unwrap();
    assert_eq!(c.backends[0].timeouts, Timeouts::default());
    assert_eq!(c.client_timeout, Duration::from_secs(60));
    let text = GOOD.replace(
        "region = \"garage\"",
        "region = \"garage\"\ntimeouts = { idle = \"250ms\", retries = 0 }",
    ) + "[timeouts]\nconnect = \"2s\"\ntotal = 90\n";
    let c = parse(&text, &no_env).unwrap();
    let t = &c.backends[0].timeouts;
    assert_eq!(t.connect, Duration::from_secs(2));
    assert_eq!(t.total, Duration::from_secs(90));
    assert_eq!(t.idle, Duration::from_millis(250));
    assert_eq!(t.retries, 0);
    let bad = GOOD.to_string() + "[timeouts]\nidle = \"soon\"\n";
    let errs = parse(&bad, &no_env).unwrap_err();
    assert_eq!(errs[0].key, "timeouts.idle");
    assert!(errs[0].line.is_some(), "{}", errs[0]);
    let zero = GOOD.replace("[server]", "[server]\nclient_timeout = \"0s\"");
    assert_eq!(
        parse(&zero, &no_env).unwrap_err()[0].key,
        "server.client_timeout"
    );
}

#[test]
fn copy_keepalive_defaults_to_one_second_and_zero_turns_it_off() {
    let c = parse(GOOD, &no_env).unwrap();
    assert_eq!(c.copy_keepalive, Some(Duration::from_secs(1)));
    assert_eq!(c.copy_keepalive_interval, Duration::from_secs(1));
    let off = GOOD.replace(
        "[server]",
        "[server]\ncopy_keepalive = \"0s\"\ncopy_keepalive_interval = \"5s\"",
    );
    let c = parse(&off, &no_env).unwrap();
    assert_eq!(c.copy_keepalive, None);
    assert_eq!(c.copy_keepalive_interval, Duration::from_secs(5));
    let bad = GOOD.replace("[server]", "[server]\ncopy_keepalive = \"later\"");
    assert_eq!(
        parse(&bad, &no_env).unwrap_err()[0].key,
        "server.copy_keepalive"
    );
}

#[test]
fn good_config_routes() {
    let c = parse(GOOD, &no_env).unwrap();
    assert_eq!(c.route("cos-x").unwrap().bucket, "cos-x-1250000000");
    assert_eq!(c.route("plain").unwrap().bucket, "plain");
    assert_eq!(c.backends[0].host, "127.0.0.1:3900");
    assert!(c.verify);
}

#[test]
fn errors_name_the_key_and_line() {
    let bad = GOOD.replace("dialect = \"s3\"", "dialect = \"gcs\"");
    let e = parse(&bad, &no_env).unwrap_err();
    assert_eq!(e[0].key, "backends[0].dialect");
    assert_eq!(e[0].line, Some(9));
    let bad = GOOD.replace("secret_key = \"GS\"", "secret_key_env = \"NOPE_NOT_SET\"");
    let e = parse(&bad, &no_env).unwrap_err();
    assert!(e[0].to_string().contains("NOPE_NOT_SET"), "{}", e[0]);
    let e = parse("[server]\nlisten = 5\n", &no_env).unwrap_err();
    assert_eq!(e[0].line, Some(2));
    let e = parse(&GOOD.replace("backend = \"g\"\n\"", "x"), &no_env);
    assert!(e.is_ok());
    let bad = GOOD.replace(
        "bucket = \"*\"\nbackend = \"g\"",
        "bucket = \"*\"\nbackend = \"missing\"",
    );
    assert_eq!(
        parse(&bad, &no_env).unwrap_err()[0].key,
        "routes[1].backend"
    );
}

#[test]
fn globs() {
    assert!(glob("*", "") && glob("*", "abc") && glob("a*c", "abc") && glob("a*b*c", "axbyc"));
    assert!(!glob("a*c", "ab") && !glob("abc", "abcd") && !glob("a*b*c", "acb"));
}

#[test]
fn endpoints() {
    assert_eq!(
        parse_endpoint("https://cos.ap-guangzhou.myqcloud.com").unwrap(),
        (
            true,
            "cos.ap-guangzhou.myqcloud.com".into(),
            "cos.ap-guangzhou.myqcloud.com".into(),
            443
        )
    );
    assert!(parse_endpoint("ftp://x").is_err());
    assert!(parse_endpoint("http://x/path").is_err());
}

#[test]
fn secrets_come_from_files_which_are_watched() {
    let dir = std::env::temp_dir().join(format!("dp-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (client, backend) = (dir.join("client"), dir.join("backend"));
    std::fs::write(&client, "client-secret\n").unwrap();
    std::fs::write(&backend, "backend-secret").unwrap();
    let text = GOOD
        .replace(
            "secret_key = \"SK\"",
            &format!("secret_key_file = {:?}", client.display().to_string()),
        )
        .replace(
            "secret_key = \"GS\"",
            &format!("secret_key_file = {:?}", backend.display().to_string()),
        );
    let c = parse(&text, &no_env).unwrap();
    assert_eq!(c.clients["AK"].secret.expose(), "client-secret");
    assert_eq!(c.backends[0].secret.expose(), "backend-secret");
    assert_eq!(c.watched, vec![client.clone(), backend.clone()]);

    std::fs::write(&client, "").unwrap();
    let e = parse(&text, &no_env).unwrap_err();
    assert!(e[0].to_string().contains("is empty"), "{}", e[0]);
    std::fs::remove_file(&client).unwrap();
    let e = parse(&text, &no_env).unwrap_err();
    assert!(e[0].to_string().contains("cannot read"), "{}", e[0]);
    assert_eq!(e[0].line, Some(6), "{}", e[0]);
    let both = text.replace("secret_key_file", "secret_key = \"x\"\nsecret_key_file");
    assert!(parse(&both, &no_env).unwrap_err()[0]
        .to_string()
        .contains("not several"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn operations_settings_have_defaults_and_are_checked() {
    let c = parse(GOOD, &no_env).unwrap();
    assert_eq!(c.access_log, crate::access::Format::Text);
    assert!(!c.access_log_keys);
    assert_eq!(c.config_poll, Some(Duration::from_secs(1)));
    assert_eq!(c.shutdown_delay, Duration::ZERO);
    assert_eq!(c.shutdown_grace, Duration::from_secs(25));
    let text = GOOD.replace(
        "listen = [\"127.0.0.1:0\"]",
        "listen = [\"127.0.0.1:0\"]\naccess_log = \"json\"\naccess_log_keys = true\nconfig_poll = \"0s\"\nshutdown_delay = \"3s\"\nshutdown_grace = \"1m\"",
    );
    let c = parse(&text, &no_env).unwrap();
    assert_eq!(c.access_log, crate::access::Format::Json);
    assert!(c.access_log_keys);
    assert_eq!(c.config_poll, None);
    assert_eq!(c.shutdown_delay, Duration::from_secs(3));
    assert_eq!(c.shutdown_grace, Duration::from_secs(60));
    let bad = GOOD.replace(
        "listen = [\"127.0.0.1:0\"]",
        "listen = [\"127.0.0.1:0\"]\naccess_log = \"xml\"\nshutdown_grace = \"0s\"",
    );
    let e = parse(&bad, &no_env).unwrap_err();
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e
        .iter()
        .any(|e| e.key == "server.access_log" && e.line == Some(4)));
    assert!(e.iter().any(|e| e.key == "server.shutdown_grace"));
}

#[test]
fn grants_and_client_tokens_are_read_and_checked() {
    let c = parse(GOOD, &no_env).unwrap();
    assert_eq!(c.clients["AK"].grant, Grant::default());
    assert!(c.clients["AK"].session_token.is_none());
    let text = GOOD.replace(
        "secret_key = \"SK\"",
        "secret_key = \"SK\"\nbuckets = [\"team-*\"]\naccess = [\"read\", \"PutObject\"]\nsession_token_env = \"TOK\"",
    );
    let env = |n: &str| (n == "TOK").then(|| "t0k".to_string());
    let c = parse(&text, &env).unwrap();
    let g = &c.clients["AK"].grant;
    assert_eq!(g.buckets.as_deref(), Some(&["team-*".to_string()][..]));
    assert_eq!(
        c.clients["AK"].session_token.as_ref().unwrap().expose(),
        "t0k"
    );
    let bad = GOOD.replace(
        "secret_key = \"SK\"",
        "secret_key = \"SK\"\naccess = [\"admin\"]",
    );
    let errs = parse(&bad, &no_env).unwrap_err();
    assert!(errs[0].key == "clients[0].access" && errs[0].message.contains("'admin'"));
}

#[test]
fn anonymous_routes_take_reads_and_listings_only() {
    let text = GOOD.replace(
        "bucket = \"*\"\nbackend = \"g\"",
        "bucket = \"*\"\nbackend = \"g\"\nanonymous = [\"read\", \"list\"]",
    );
    let c = parse(&text, &no_env).unwrap();
    assert_eq!(
        c.route("x").unwrap().anonymous,
        [Access::Read, Access::List]
    );
    assert!(c.route("cos-x").unwrap().anonymous.is_empty());
    let bad = GOOD.replace(
        "bucket = \"*\"\nbackend = \"g\"",
        "bucket = \"*\"\nbackend = \"g\"\nanonymous = [\"write\"]",
    );
    let errs = parse(&bad, &no_env).unwrap_err();
    assert_eq!(errs[0].key, "routes[1].anonymous");
}

#[test]
fn cors_rules_are_read_and_checked() {
    let rule = "cors = { allowed_origins = [\"https://app.example\"], allowed_methods = [\"GET\", \"PUT\"], max_age_secs = 600 }";
    let text = GOOD.replace(
        "bucket = \"*\"\nbackend = \"g\"",
        &format!("bucket = \"*\"\nbackend = \"g\"\n{rule}"),
    );
    let c = parse(&text, &no_env).unwrap();
    let cors = c.route("x").unwrap().cors.unwrap();
    assert_eq!(cors.allowed_methods, ["GET", "PUT"]);
    assert_eq!(cors.max_age_secs, Some(600));
    let bad = text.replace("\"PUT\"]", "\"PATCH\"]");
    assert_eq!(parse(&bad, &no_env).unwrap_err()[0].key, "routes[1].cors");
}
