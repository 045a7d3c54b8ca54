//! What a file is, told by its bytes (never by its name or by what the
//! browser claims), and whether it may be uploaded: the allow-list. Pure:
//! no I/O.

/// An allowed type. `picture`: an image the server decodes and re-encodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileType {
    pub mime: &'static str,
    pub picture: Option<image::ImageFormat>,
}

/// Images, re-encoded on upload and shown inline.
const PICTURES: [(&str, image::ImageFormat); 4] = [
    ("image/jpeg", image::ImageFormat::Jpeg),
    ("image/png", image::ImageFormat::Png),
    ("image/webp", image::ImageFormat::WebP),
    ("image/gif", image::ImageFormat::Gif),
];

/// Other types, kept as they are and served as downloads.
const FILES: &[&str] = &[
    "application/pdf",
    "application/zip",
    "application/gzip",
    "application/x-7z-compressed",
    "application/x-tar",
    "application/rtf",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/epub+zip",
    "image/heif",
    "video/mp4",
    "video/webm",
    "video/quicktime",
    "audio/mpeg",
    "audio/ogg",
    "audio/x-wav",
    "audio/m4a",
    "audio/aac",
    "audio/opus",
    "audio/x-flac",
    "video/x-m4v",
    "application/vnd.rar",
];

/// Plain text: what has no signature but is UTF-8 without NUL bytes.
pub const TEXT: &str = "text/plain";

/// The bytes needed to tell a type (`infer` looks at fewer; an Office file
/// is told by the names near the start of its zip).
pub const HEAD_BYTES: usize = 64 * 1024;

/// The type of a file from its first bytes (`head`; `whole` when they are
/// all of it), or None if it is not an allowed type. On a part of a file,
/// text is judged by what is there (a character cut at the end is fine).
pub fn sniff(head: &[u8], whole: bool) -> Option<FileType> {
    if let Some(found) = infer::get(head) {
        let mime = found.mime_type();
        if let Some(&(mime, format)) = PICTURES.iter().find(|(m, _)| *m == mime) {
            return Some(FileType {
                mime,
                picture: Some(format),
            });
        }
        return FILES
            .iter()
            .find(|m| **m == mime)
            .map(|&mime| FileType { mime, picture: None });
    }
    is_text(head, whole).then_some(FileType {
        mime: TEXT,
        picture: None,
    })
}

fn is_text(bytes: &[u8], whole: bool) -> bool {
    if bytes.is_empty() || bytes.contains(&0) {
        return false;
    }
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        // Cut in the middle of a character: fine unless that is the end.
        Err(e) => !whole && e.error_len().is_none(),
    }
}

/// Whether browsers may show it in a page (an image they decode
/// themselves): everything else is served as a download.
pub fn displayable(mime: &str) -> bool {
    PICTURES.iter().any(|(m, _)| *m == mime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(sniff(png, false).map(|t| t.mime), Some("image/png"));
        assert!(sniff(png, false).unwrap().picture.is_some());
        assert_eq!(
            sniff(b"%PDF-1.7\n", false).map(|t| t.mime),
            Some("application/pdf")
        );
        assert_eq!(
            sniff("회의록: 내일 10시\n".as_bytes(), true).map(|t| t.mime),
            Some(TEXT)
        );
        // An executable is not on the list, whatever its name says.
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff", false), None);
        assert_eq!(sniff(b"\x7fELF\x02\x01\x01\0", false), None);
        // Binary bytes with no known signature are nothing.
        assert_eq!(sniff(&[1, 2, 0, 4, 5], true), None);
        assert_eq!(sniff(b"", true), None);
    }

    #[test]
    fn text_may_be_cut_mid_character_only_in_a_part() {
        let cut = &"한".as_bytes()[..2];
        assert!(sniff(cut, false).is_some());
        assert!(sniff(cut, true).is_none());
        assert!(sniff(b"\xff\xfe bad", false).is_none());
    }

    #[test]
    fn only_pictures_are_shown_inline() {
        assert!(displayable("image/png"));
        assert!(!displayable("image/heif"));
        assert!(!displayable(TEXT));
    }
}
