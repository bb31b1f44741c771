//! The few pieces of URL handling the AWS source needs, each as the reference does it:
//! splitting the verification URL as Python's `urllib.parse.urlparse`, normalizing its path as
//! `posixpath.normpath` followed by `urljoin`, canonicalizing its query as `parse_qs` and
//! `quote(safe="-_.~")`; and the checks of the configured URLs at parse time.

use std::net::{Ipv4Addr, Ipv6Addr};

use credkit_core::BuildError;
use credkit_core::endpoint::is_loopback_host;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// AWS's instance metadata service over IPv4.
const IMDS_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);

/// AWS's instance metadata service over IPv6 (`fd00:ec2::254`).
const IMDS_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

/// Python's `quote(s, safe="-_.~")`: everything but letters, digits and `-_.~` is encoded.
const SIGV4_QUOTE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A URL split as Python's `urlparse` splits it: the parts the signature reads.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SplitUrl<'a> {
    /// The scheme, as written (Python lowercases it; compare without regard to case).
    pub(crate) scheme: &'a str,
    /// What follows `//` up to the first `/`, `?` or `#`.
    pub(crate) netloc: &'a str,
    /// The path, without the `;params` of its last segment.
    pub(crate) path: &'a str,
    /// The query, without `?` and without the fragment.
    pub(crate) query: &'a str,
}

impl<'a> SplitUrl<'a> {
    /// Splits `url`; `None` without a scheme or a `//` authority (which the reference refuses as
    /// an "Invalid AWS service URL" for want of a host).
    pub(crate) fn parse(url: &'a str) -> Option<Self> {
        let colon = url.find(':')?;
        let scheme = &url[..colon];
        let mut chars = scheme.chars();
        if !chars.next()?.is_ascii_alphabetic()
            || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            return None;
        }
        let rest = url[colon + 1..].strip_prefix("//")?;
        let netloc_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (netloc, rest) = rest.split_at(netloc_end);
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        Some(Self {
            scheme,
            netloc,
            path: strip_params(path),
            query,
        })
    }

    /// Python's `hostname`: the netloc without user info and port (inside the brackets of an
    /// IPv6 address), in lower case; `None` when empty.
    pub(crate) fn hostname(&self) -> Option<String> {
        let hostinfo = self
            .netloc
            .rsplit_once('@')
            .map_or(self.netloc, |(_, host)| host);
        let host = match hostinfo.split_once('[') {
            Some((_, bracketed)) => bracketed.split_once(']').map_or(bracketed, |(h, _)| h),
            None => hostinfo.split_once(':').map_or(hostinfo, |(h, _)| h),
        };
        (!host.is_empty()).then(|| host.to_ascii_lowercase())
    }
}

/// `urlparse`'s `_splitparams`: drops what follows a `;` in the last path segment.
fn strip_params(path: &str) -> &str {
    let last_segment = path.rfind('/').unwrap_or(0);
    match path[last_segment..].find(';') {
        Some(at) => &path[..last_segment + at],
        None => path,
    }
}

/// The canonical URI of the signature as the reference computes it:
/// `urlparse(urljoin(url, posixpath.normpath(path))).path or "/"`.
pub(crate) fn canonical_uri(path: &str) -> String {
    let normalized = normpath(path);
    if normalized == "." {
        return "/".to_owned();
    }
    // `normpath` keeps exactly two leading slashes; `urljoin` reads them as an authority.
    if let Some(rest) = normalized.strip_prefix("//") {
        if rest.is_empty() {
            // `urljoin(url, "//")` keeps the URL's own path, which is `//` here.
            return normalized;
        }
        let path = rest.find('/').map_or("", |at| &rest[at..]);
        let path = strip_params(path);
        return if path.is_empty() {
            "/".to_owned()
        } else {
            path.to_owned()
        };
    }
    let path = strip_params(&normalized);
    if path.is_empty() {
        "/".to_owned()
    } else {
        path.to_owned()
    }
}

/// Python's `posixpath.normpath` of a URL's path, which is empty or absolute (after the
/// authority, it starts with `/`): `.` and empty segments dropped, `..` removing the segment
/// before it (at the root, nothing), exactly two leading slashes kept as two.
fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let initial_slashes = if path.starts_with("//") && !path.starts_with("///") {
        2
    } else {
        1
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("{}{}", "/".repeat(initial_slashes), parts.join("/"))
}

/// The canonical query string of the signature as the reference computes it: `parse_qs` (pairs split
/// on `&`, blank values dropped, `+` and `%XX` decoded as UTF-8 with replacement), every key and
/// value quoted with `safe="-_.~"`, keys sorted, each key's values sorted.
pub(crate) fn canonical_querystring(query: &str) -> String {
    let mut pairs: Vec<(String, Vec<String>)> = Vec::new();
    for field in query.split('&') {
        let Some((name, value)) = field.split_once('=') else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let name = quote(&unquote_plus(name));
        let value = quote(&unquote_plus(value));
        match pairs.iter_mut().find(|(key, _)| *key == name) {
            Some((_, values)) => values.push(value),
            None => pairs.push((name, vec![value])),
        }
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    for (key, mut values) in pairs {
        values.sort();
        for value in values {
            out.push(format!("{key}={value}"));
        }
    }
    out.join("&")
}

/// Python's `unquote(s.replace("+", " "))`.
fn unquote_plus(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

fn quote(text: &str) -> String {
    utf8_percent_encode(text, SIGV4_QUOTE).to_string()
}

/// What the verification URL must be: printable ASCII, `https`, with a host once `{region}` is
/// substituted. The reference refuses the rest only when it signs ("Invalid AWS service URL").
pub(crate) fn check_verification_url(url: &str, what: &str) -> Result<(), BuildError> {
    let substituted = url.replace("{region}", "us-east-1");
    let refused = || {
        BuildError::invalid_value(format!(
            "Invalid AWS service URL: {what} must be an absolute https URL with a host"
        ))
    };
    if !printable_ascii(url) || !balanced_brackets(&substituted) {
        return Err(refused());
    }
    let split = SplitUrl::parse(&substituted).ok_or_else(refused)?;
    if !split.scheme.eq_ignore_ascii_case("https") || split.hostname().is_none() {
        return Err(refused());
    }
    Ok(())
}

/// What a metadata URL must be: printable ASCII without user info, `https` to any host, or
/// plain `http` to loopback or AWS's metadata service (`169.254.169.254`, `[fd00:ec2::254]`).
pub(crate) fn check_metadata_url(url: &str, what: &str) -> Result<(), BuildError> {
    let malformed = || {
        BuildError::invalid_value(format!(
            "credential_source.{what} must be an absolute http or https URL with a host and no user name"
        ))
    };
    if !printable_ascii(url) || url.contains('\\') || !balanced_brackets(url) {
        return Err(malformed());
    }
    let split = SplitUrl::parse(url).ok_or_else(malformed)?;
    if split.netloc.contains('@') {
        return Err(malformed());
    }
    let Some(host) = split.hostname() else {
        return Err(malformed());
    };
    if split.scheme.eq_ignore_ascii_case("https") {
        return Ok(());
    }
    if !split.scheme.eq_ignore_ascii_case("http") {
        return Err(malformed());
    }
    // `hostname` drops the brackets of an IPv6 address; the loopback check wants them back.
    let bracketed = format!("[{host}]");
    let plain_ok = is_loopback_host(&host)
        || (split.netloc.starts_with('[') && is_loopback_host(&bracketed))
        || host.parse::<Ipv4Addr>() == Ok(IMDS_V4)
        || (split.netloc.starts_with('[') && host.parse::<Ipv6Addr>() == Ok(IMDS_V6));
    if plain_ok {
        Ok(())
    } else {
        Err(BuildError::invalid_value(format!(
            "credential_source.{what}: plain http is allowed only to loopback and to AWS's metadata service (169.254.169.254, [fd00:ec2::254]); use https"
        )))
    }
}

fn printable_ascii(url: &str) -> bool {
    !url.is_empty() && url.bytes().all(|b| b.is_ascii_graphic())
}

/// At most one `[`, before at most one `]`, in the authority; none elsewhere in it.
fn balanced_brackets(url: &str) -> bool {
    let Some(split) = SplitUrl::parse(url) else {
        return true;
    };
    let host = split
        .netloc
        .rsplit_once('@')
        .map_or(split.netloc, |(_, h)| h);
    match (host.find('['), host.find(']')) {
        (None, None) => true,
        (Some(0), Some(close)) => {
            host.matches('[').count() == 1
                && host.matches(']').count() == 1
                && host[close + 1..]
                    .strip_prefix(':')
                    .map_or(close + 1 == host.len(), |port| {
                        port.bytes().all(|b| b.is_ascii_digit())
                    })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values printed by the reference (Python 3.11, google-auth 2.63.1).
    #[test]
    fn the_canonical_uri_is_the_references() {
        for (url, expected) in [
            (
                "https://sts.r.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
                "/",
            ),
            ("https://h/", "/"),
            ("https://h/a/b/../c", "/a/c"),
            ("https://h//a/b", "/b"),
            ("https://h//a", "/"),
            ("https://h///a/./b", "/a/b"),
            ("https://h/a;p?x=1", "/a"),
            ("https://h/a;p/b/..", "/a"),
            ("https://h/..", "/"),
            ("https://h/a/b/", "/a/b"),
            ("https://h/%2e%2e/x", "/%2e%2e/x"),
            ("https://h:443/x", "/x"),
            ("https://U@H.Com:8/x", "/x"),
            ("https://h/a/../..//b", "/b"),
            ("https://h/./", "/"),
            ("https://h/a//b//", "/a/b"),
            ("https://h//", "//"),
            ("https://h//a;b", "/"),
            ("https://h/a:b", "/a:b"),
            ("https://[::1]/x", "/x"),
        ] {
            let split = SplitUrl::parse(url).unwrap();
            assert_eq!(canonical_uri(split.path), expected, "{url}");
        }
    }

    #[test]
    fn hostnames_are_pythons() {
        for (url, host) in [
            ("https://U@H.Com:8/x", Some("h.com")),
            ("https://[::1]:8/x", Some("::1")),
            (
                "https://sts.us-east-1.amazonaws.com?x",
                Some("sts.us-east-1.amazonaws.com"),
            ),
            ("https://:443/", None),
            ("https://user@/", None),
        ] {
            assert_eq!(
                SplitUrl::parse(url).unwrap().hostname().as_deref(),
                host,
                "{url}"
            );
        }
        assert_eq!(SplitUrl::parse("https:no-authority"), None);
        assert_eq!(SplitUrl::parse("1https://h/"), None);
    }

    /// Expected values printed by the reference's `_get_canonical_querystring`.
    #[test]
    fn the_canonical_query_is_the_references() {
        for (query, expected) in [
            (
                "Action=GetCallerIdentity&Version=2011-06-15",
                "Action=GetCallerIdentity&Version=2011-06-15",
            ),
            ("b=2&a=1&b=1", "a=1&b=1&b=2"),
            ("a=&b", ""),
            ("a+b=c+d&%41=%zz", "A=%25zz&a%20b=c%20d"),
            ("x=%E2%82%AC&y=%ff", "x=%E2%82%AC&y=%EF%BF%BD"),
            ("k=v=w&&k=a", "k=a&k=v%3Dw"),
            ("a;b=c", "a%3Bb=c"),
            ("=x&Z=1&a=2", "=x&Z=1&a=2"),
            ("a=%20~!*()'", "a=%20~%21%2A%28%29%27"),
            ("", ""),
        ] {
            assert_eq!(canonical_querystring(query), expected, "{query:?}");
        }
    }

    #[test]
    fn verification_urls_are_https_with_a_host() {
        for url in [
            "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
            "https://sts-fips.{region}.amazonaws.com/?Action=GetCallerIdentity",
            "HTTPS://sts.amazonaws.com",
            "https://127.0.0.1:8443/sts",
        ] {
            assert!(check_verification_url(url, "u").is_ok(), "{url}");
        }
        for url in [
            "http://sts.{region}.amazonaws.com",
            "https://",
            "https:///path",
            "sts.amazonaws.com",
            "https://sts.amazonaws.com/ x",
            "https://sts.amazonaws.com/\u{e9}",
            "https://[::1/",
            "",
        ] {
            let err = check_verification_url(url, "u").unwrap_err();
            assert!(
                err.to_string().starts_with("Invalid AWS service URL"),
                "{url}"
            );
        }
    }

    #[test]
    fn plain_http_goes_to_loopback_and_the_metadata_service_only() {
        for url in [
            "http://169.254.169.254/latest/meta-data/placement/availability-zone",
            "http://169.254.169.254:80/latest/api/token",
            "http://[fd00:ec2::254]/latest/meta-data/iam/security-credentials",
            "http://[FD00:EC2:0::254]/latest/api/token",
            "http://127.0.0.1:8080/x",
            "http://localhost/x",
            "http://[::1]:9/x",
            "https://metadata.example/x",
            "HTTP://169.254.169.254/x",
        ] {
            assert!(check_metadata_url(url, "url").is_ok(), "{url}");
        }
        for url in [
            "http://169.254.169.253/x",
            "http://169.254.169.254.evil.example/x",
            "http://evil.example/x",
            "http://fd00:ec2::254/x",
            "http://[fd00:ec2::255]/x",
            "http://127.0.0.1@evil.example/x",
            "http://169.254.169.254\\@evil.example/x",
            "ftp://127.0.0.1/x",
            "http:///x",
            "http://[::1/x",
            "http://[::1]x/",
            "http://169.254.169.254/ x",
            "/latest/api/token",
            "",
        ] {
            assert!(check_metadata_url(url, "url").is_err(), "{url}");
        }
    }
}
