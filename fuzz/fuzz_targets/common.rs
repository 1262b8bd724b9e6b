// Shared by the targets: a request made of fuzz bytes. Lines: method, path, query, then
// `name: value` headers.

#[allow(dead_code)]
pub fn request(data: &[u8]) -> Option<(String, String, String, Vec<(String, String)>)> {
    let text = std::str::from_utf8(data).ok()?;
    let mut lines = text.split('\n');
    let method = lines.next()?.to_string();
    let path = lines.next()?.to_string();
    let query = lines.next()?.to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some((method, path, query, headers))
}
