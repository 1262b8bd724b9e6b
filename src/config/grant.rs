//! What one client key may do: the client-visible buckets (globs) and the access, as classes
//! (`read`, `write`, `list`, `delete`) or operation names. Checked before any backend is asked.

use super::glob;

/// The class of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    List,
    Delete,
}

impl Access {
    const ALL: [(&'static str, Access); 4] = [
        ("read", Access::Read),
        ("write", Access::Write),
        ("list", Access::List),
        ("delete", Access::Delete),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, a)| *a == self)
            .map_or("-", |(n, _)| n)
    }
}

/// One operation as a grant sees it: its class and its name (S3's, as in the access log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Action {
    pub access: Access,
    pub name: &'static str,
}

/// Operation names a grant may list, each with its class.
pub const ACTIONS: &[(&str, Access)] = &[
    ("GetObject", Access::Read),
    ("HeadObject", Access::Read),
    ("GetObjectAcl", Access::Read),
    ("GetObjectTagging", Access::Read),
    ("HeadBucket", Access::Read),
    ("GetBucketLocation", Access::Read),
    ("GetBucketAcl", Access::Read),
    ("GetBucketConfiguration", Access::Read),
    ("ListBuckets", Access::List),
    ("ListObjects", Access::List),
    ("ListMultipartUploads", Access::List),
    ("ListParts", Access::List),
    ("PutObject", Access::Write),
    ("CopyObject", Access::Write),
    ("UploadPart", Access::Write),
    ("UploadPartCopy", Access::Write),
    ("CreateMultipartUpload", Access::Write),
    ("CompleteMultipartUpload", Access::Write),
    ("AbortMultipartUpload", Access::Write),
    ("PutObjectAcl", Access::Write),
    ("PutObjectTagging", Access::Write),
    ("DeleteObjectTagging", Access::Write),
    ("RestoreObject", Access::Write),
    ("CreateBucket", Access::Write),
    ("PutBucketAcl", Access::Write),
    ("PutBucketConfiguration", Access::Write),
    ("DeleteBucketConfiguration", Access::Write),
    ("DeleteObject", Access::Delete),
    ("DeleteObjects", Access::Delete),
    ("DeleteBucket", Access::Delete),
];

impl Action {
    /// The action of a listed name (`ListObjectsV2` is `ListObjects`).
    pub fn named(name: &str) -> Option<Action> {
        let name = if name == "ListObjectsV2" {
            "ListObjects"
        } else {
            name
        };
        ACTIONS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(name, access)| Action { access, name })
    }
}

/// `None` fields allow everything: a configuration without grants behaves as before them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    pub buckets: Option<Vec<String>>,
    /// Classes and operation names, as written.
    pub access: Option<Vec<String>>,
}

impl Grant {
    /// From the file's lists; an unknown access word is an error naming the valid ones.
    pub fn new(buckets: Option<Vec<String>>, access: Option<Vec<String>>) -> Result<Self, String> {
        for a in access.iter().flatten() {
            let known = Access::ALL.iter().any(|(n, _)| n == a) || Action::named(a).is_some();
            if !known {
                return Err(format!(
                    "'{a}' is neither read, write, list, delete nor an operation name ({})",
                    ACTIONS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Ok(Grant { buckets, access })
    }

    pub fn bucket(&self, bucket: &str) -> bool {
        self.buckets
            .as_ref()
            .is_none_or(|globs| globs.iter().any(|g| glob(g, bucket)))
    }

    pub fn action(&self, a: Action) -> bool {
        self.access.as_ref().is_none_or(|list| {
            list.iter()
                .any(|w| w == a.access.name() || Action::named(w).is_some_and(|n| n.name == a.name))
        })
    }

    /// Whether `a` on `bucket` (`None`: the service, as ListBuckets) is granted.
    pub fn allows(&self, bucket: Option<&str>, a: Action) -> bool {
        self.action(a) && bucket.is_none_or(|b| self.bucket(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(buckets: &[&str], access: &[&str]) -> Grant {
        let v = |l: &[&str]| Some(l.iter().map(|s| s.to_string()).collect());
        Grant::new(v(buckets), v(access)).unwrap()
    }

    #[test]
    fn classes_names_and_globs() {
        let g = grant(&["team-a-*", "shared"], &["read", "list", "PutObject"]);
        let get = Action::named("GetObject").unwrap();
        let put = Action::named("PutObject").unwrap();
        let del = Action::named("DeleteObject").unwrap();
        assert!(g.allows(Some("team-a-logs"), get));
        assert!(g.allows(Some("shared"), put));
        assert!(!g.allows(Some("shared"), del));
        assert!(!g.allows(Some("team-b-logs"), get));
        assert!(!g.allows(Some("sharedx"), get));
        assert!(g.allows(None, Action::named("ListBuckets").unwrap()));
        assert!(Grant::default().allows(Some("any"), del));
        assert!(Grant::new(None, Some(vec!["admin".into()])).is_err());
        assert_eq!(Action::named("ListObjectsV2").unwrap().access, Access::List);
    }
}
