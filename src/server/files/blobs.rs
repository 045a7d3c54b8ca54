//! Where the bytes of files live: one `ObjectStore` (the `object_store`
//! crate's trait) over a local directory (the embedded shape) or an
//! S3-compatible bucket (the cluster shape: every node reads what any node
//! wrote), and the names of what is kept there. No rules here.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::ObjectStore;
use uuid::Uuid;

pub type Blobs = Arc<dyn ObjectStore>;

/// The store `CHAT_FILES` names: `s3://BUCKET[/PREFIX]` (credentials and
/// region from the usual AWS_* variables, the endpoint from
/// `CHAT_S3_ENDPOINT` when it is not AWS; objects under PREFIX when given),
/// else a directory, made if missing.
pub fn open(location: &str, s3_endpoint: Option<&str>) -> Result<Blobs, String> {
    let fail = |e: &dyn std::fmt::Display| format!("CHAT_FILES ({location}): {e}");
    if let Some(rest) = location.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(endpoint) = s3_endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let store = builder.build().map_err(|e| fail(&e))?;
        let prefix = prefix.trim_matches('/');
        if prefix.is_empty() {
            return Ok(Arc::new(store));
        }
        return Ok(Arc::new(PrefixStore::new(store, prefix)));
    }
    std::fs::create_dir_all(location).map_err(|e| fail(&e))?;
    let store = LocalFileSystem::new_with_prefix(location).map_err(|e| fail(&e))?;
    Ok(Arc::new(store))
}

/// A part of upload `id` starting at byte `offset`; the random tail keeps
/// two requests racing for one offset from writing the same object (the
/// upload's row says which part counts).
pub fn part(id: Uuid, offset: u64) -> Path {
    let tail = Uuid::new_v4().simple().to_string();
    Path::from(format!("parts/{id}/{offset:020}-{}", &tail[..8]))
}

/// Where the parts of upload `id` are, to remove them all.
pub fn parts(id: Uuid) -> Path {
    Path::from(format!("parts/{id}"))
}

/// The file of upload `id` as served.
pub fn file(id: Uuid) -> Path {
    Path::from(format!("files/{id}"))
}

/// The thumbnail of image `id`.
pub fn thumb(id: Uuid) -> Path {
    Path::from(format!("thumbs/{id}"))
}

/// Picture `id` of a person or a group.
pub fn avatar(id: Uuid) -> Path {
    Path::from(format!("avatars/{id}"))
}

/// The upload an object belongs to (every name above has it second).
pub fn owner(path: &Path) -> Option<Uuid> {
    path.parts().nth(1)?.as_ref().parse().ok()
}
