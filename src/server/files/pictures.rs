//! Images as the server keeps them: decoded (within bounds: a small file
//! claiming huge dimensions is refused before anything is allocated),
//! turned upright by their EXIF orientation, and encoded again, which leaves
//! every metadata block behind (EXIF with its GPS position, XMP, comments);
//! a thumbnail and the average colour for the timeline's placeholder.
//! CPU work only, synchronous: `files` runs it on the blocking pool, a
//! bounded number at once.

use std::io::Cursor;

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::gif::{GifDecoder, GifEncoder, Repeat};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::metadata::Orientation;
use image::{
    AnimationDecoder, ColorType, DynamicImage, Frame, ImageDecoder, ImageEncoder, ImageFormat, ImageReader,
    Limits,
};

use crate::model::thumb_size;

/// JPEG quality of a re-encoded photo and of a thumbnail.
const PHOTO_QUALITY: u8 = 85;
const THUMB_QUALITY: u8 = 80;
/// The most frames a GIF may have.
pub const FRAMES_MAX: usize = 500;
/// The longest side an image may have, whatever its pixel count.
const SIDE_MAX: u32 = 30_000;
/// The side of a person's or a group's picture, in pixels (shown at 40
/// CSS pixels, 80 on a 2× screen, larger on the settings screen).
pub const AVATAR_SIDE: u32 = 256;

/// An image as stored: its bytes (`mime`), its upright size, its thumbnail
/// (JPEG, or PNG when it has transparency) and its average colour.
pub struct Picture {
    pub bytes: Vec<u8>,
    pub mime: &'static str,
    pub w: u32,
    pub h: u32,
    pub thumb: Vec<u8>,
    pub color: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    #[error("The image is {w}×{h} pixels; at most {max} pixels are allowed.")]
    TooLarge { w: u32, h: u32, max: u64 },
    #[error("The animation has more than {FRAMES_MAX} frames or pixels than allowed.")]
    TooLong,
    #[error("The image cannot be read: {0}.")]
    Corrupt(String),
}

fn corrupt(e: impl std::fmt::Display) -> PictureError {
    PictureError::Corrupt(e.to_string())
}

/// A decoding error, where hitting the limits means the image is too large.
fn failed((w, h): (u32, u32), max: u64) -> impl Fn(image::ImageError) -> PictureError {
    move |e| match e {
        image::ImageError::Limits(_) => PictureError::TooLarge { w, h, max },
        e => corrupt(e),
    }
}

/// Re-encodes an image of `format` with at most `max_pixels` pixels (see
/// the module header). JPEG stays JPEG; PNG stays PNG; WebP becomes JPEG,
/// or PNG when it has transparency; a GIF is re-encoded frame by frame
/// (its thumbnail is the first).
pub fn reencode(bytes: &[u8], format: ImageFormat, max_pixels: u64) -> Result<Picture, PictureError> {
    if format == ImageFormat::Gif {
        let (w, h) = checked_size(bytes, format, max_pixels)?;
        return animation(bytes, (w, h), max_pixels, limits(max_pixels));
    }
    let (img, icc) = upright(bytes, format, max_pixels)?;
    let alpha = img.color().has_alpha();
    let (bytes, mime) = if format == ImageFormat::Png || alpha {
        (png(&img, icc)?, "image/png")
    } else {
        (jpeg(&img, PHOTO_QUALITY, icc)?, "image/jpeg")
    };
    let (thumb, color) = thumbnail(&img)?;
    Ok(Picture {
        bytes,
        mime,
        w: img.width(),
        h: img.height(),
        thumb,
        color,
    })
}

/// A picture of a person or a group: the middle square of the image
/// (upright; the first frame of an animation), `AVATAR_SIDE` pixels a side,
/// as JPEG (PNG with transparency), with no metadata. Its bytes and type.
pub fn avatar(
    bytes: &[u8],
    format: ImageFormat,
    max_pixels: u64,
) -> Result<(Vec<u8>, &'static str), PictureError> {
    let (img, _) = upright(bytes, format, max_pixels)?;
    let side = img.width().min(img.height());
    let square = img.crop_imm((img.width() - side) / 2, (img.height() - side) / 2, side, side);
    let small = resized(&square, AVATAR_SIDE, AVATAR_SIDE)?;
    match small.color().has_alpha() {
        true => Ok((png(&small, None)?, "image/png")),
        false => Ok((jpeg(&small, PHOTO_QUALITY, None)?, "image/jpeg")),
    }
}

/// The size an image's header says, refused when over the limits before
/// anything is allocated for its pixels.
fn checked_size(bytes: &[u8], format: ImageFormat, max_pixels: u64) -> Result<(u32, u32), PictureError> {
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(corrupt)?;
    if u64::from(w) * u64::from(h) > max_pixels || w > SIDE_MAX || h > SIDE_MAX {
        return Err(PictureError::TooLarge {
            w,
            h,
            max: max_pixels,
        });
    }
    Ok((w, h))
}

/// The image decoded within the limits and turned upright by its EXIF
/// orientation, with its colour profile.
fn upright(
    bytes: &[u8],
    format: ImageFormat,
    max_pixels: u64,
) -> Result<(DynamicImage, Option<Vec<u8>>), PictureError> {
    let size = checked_size(bytes, format, max_pixels)?;
    let failed = failed(size, max_pixels);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits(max_pixels));
    let mut decoder = reader.into_decoder().map_err(&failed)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let mut img = DynamicImage::from_decoder(decoder).map_err(&failed)?;
    img.apply_orientation(orientation);
    Ok((img, icc))
}

fn limits(max_pixels: u64) -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(SIDE_MAX);
    limits.max_image_height = Some(SIDE_MAX);
    // Four bytes a pixel, twice that for 16-bit channels, and a margin.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(64 << 20));
    limits
}

fn animation(
    bytes: &[u8],
    (w, h): (u32, u32),
    max_pixels: u64,
    limits: Limits,
) -> Result<Picture, PictureError> {
    let failed = failed((w, h), max_pixels);
    let mut decoder = GifDecoder::new(Cursor::new(bytes)).map_err(&failed)?;
    decoder.set_limits(limits).map_err(&failed)?;
    let per_frame = u64::from(w) * u64::from(h);
    let mut frames: Vec<Frame> = Vec::new();
    for frame in decoder.into_frames() {
        frames.push(frame.map_err(&failed)?);
        if frames.len() > FRAMES_MAX || per_frame * frames.len() as u64 > max_pixels {
            return Err(PictureError::TooLong);
        }
    }
    let first = frames
        .first()
        .map(|f| DynamicImage::ImageRgba8(f.buffer().clone()))
        .ok_or_else(|| corrupt("no frame"))?;
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut out, 20);
        encoder.set_repeat(Repeat::Infinite).map_err(corrupt)?;
        encoder.encode_frames(frames).map_err(corrupt)?;
    }
    let (thumb, color) = thumbnail(&first)?;
    Ok(Picture {
        bytes: out,
        mime: "image/gif",
        w: first.width(),
        h: first.height(),
        thumb,
        color,
    })
}

fn jpeg(img: &DynamicImage, quality: u8, icc: Option<Vec<u8>>) -> Result<Vec<u8>, PictureError> {
    let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
    let mut out = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut out, quality);
    if let Some(icc) = icc {
        // A colour profile says nothing about the person; a photo without
        // its own looks wrong.
        let _ = encoder.set_icc_profile(icc);
    }
    rgb.write_with_encoder(encoder).map_err(corrupt)?;
    Ok(out)
}

fn png(img: &DynamicImage, icc: Option<Vec<u8>>) -> Result<Vec<u8>, PictureError> {
    let eight = match img.color().has_alpha() {
        true => DynamicImage::ImageRgba8(img.to_rgba8()),
        false => DynamicImage::ImageRgb8(img.to_rgb8()),
    };
    let mut out = Vec::new();
    let mut encoder = PngEncoder::new(&mut out);
    if let Some(icc) = icc {
        let _ = encoder.set_icc_profile(icc);
    }
    eight.write_with_encoder(encoder).map_err(corrupt)?;
    Ok(out)
}

/// The thumbnail (fitted into `THUMB_MAX`, never enlarged) and the average
/// colour as `#rrggbb`.
fn thumbnail(img: &DynamicImage) -> Result<(Vec<u8>, String), PictureError> {
    let (w, h) = thumb_size(img.width(), img.height());
    let small = resized(img, w, h)?;
    let alpha = small.color().has_alpha();
    let color = average(&small);
    let bytes = match alpha {
        true => png(&small, None)?,
        false => jpeg(&small, THUMB_QUALITY, None)?,
    };
    Ok((bytes, color))
}

/// `img` at `w`×`h` (Lanczos), in 8-bit RGB or RGBA.
fn resized(img: &DynamicImage, w: u32, h: u32) -> Result<DynamicImage, PictureError> {
    let alpha = img.color().has_alpha();
    let wanted = if alpha { ColorType::Rgba8 } else { ColorType::Rgb8 };
    let converted;
    let src = if img.color() == wanted {
        img
    } else {
        converted = match alpha {
            true => DynamicImage::ImageRgba8(img.to_rgba8()),
            false => DynamicImage::ImageRgb8(img.to_rgb8()),
        };
        &converted
    };
    let mut out = DynamicImage::new(w, h, wanted);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new().resize(src, &mut out, &options).map_err(corrupt)?;
    Ok(out)
}

fn average(img: &DynamicImage) -> String {
    let rgb = img.to_rgb8();
    let n = u64::from(rgb.width()) * u64::from(rgb.height());
    let mut sum = [0u64; 3];
    for p in rgb.pixels() {
        for (s, c) in sum.iter_mut().zip(p.0) {
            *s += u64::from(c);
        }
    }
    let [r, g, b] = sum.map(|s| s / n.max(1));
    format!("#{r:02x}{g:02x}{b:02x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    const MAX: u64 = 50_000_000;

    fn photo(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, _| Rgb([(x % 256) as u8, 80, 160])))
    }

    fn encoded(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_photo_is_jpeg_again_with_its_thumbnail_and_colour() {
        let p = reencode(
            &encoded(&photo(1200, 900), ImageFormat::Jpeg),
            ImageFormat::Jpeg,
            MAX,
        )
        .unwrap();
        assert_eq!((p.mime, p.w, p.h), ("image/jpeg", 1200, 900));
        let thumb = image::load_from_memory(&p.thumb).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (320, 240));
        assert!(p.color.starts_with('#') && p.color.len() == 7);
        assert!(image::load_from_memory(&p.bytes).is_ok());
    }

    #[test]
    fn transparency_keeps_png_and_webp_becomes_jpeg_without_it() {
        let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(40, 30, Rgba([1, 2, 3, 0])));
        let p = reencode(&encoded(&clear, ImageFormat::Png), ImageFormat::Png, MAX).unwrap();
        assert_eq!(p.mime, "image/png");
        assert_eq!(image::guess_format(&p.thumb).unwrap(), ImageFormat::Png);
        let webp = encoded(&photo(64, 48), ImageFormat::WebP);
        let p = reencode(&webp, ImageFormat::WebP, MAX).unwrap();
        assert_eq!((p.mime, p.w, p.h), ("image/jpeg", 64, 48));
    }

    #[test]
    fn a_gif_keeps_its_frames_and_shows_the_first() {
        let frames = (0..3).map(|i| Frame::new(RgbaImage::from_pixel(20, 10, Rgba([i * 80, 0, 0, 255]))));
        let mut gif = Vec::new();
        GifEncoder::new(&mut gif).encode_frames(frames).unwrap();
        let p = reencode(&gif, ImageFormat::Gif, MAX).unwrap();
        assert_eq!((p.mime, p.w, p.h), ("image/gif", 20, 10));
        let again = GifDecoder::new(Cursor::new(&p.bytes))
            .unwrap()
            .into_frames()
            .count();
        assert_eq!(again, 3);
    }

    #[test]
    fn a_small_file_claiming_huge_dimensions_is_refused_before_decoding() {
        // A GIF header: "GIF89a", then a 65535×65535 logical screen.
        let mut gif = b"GIF89a\xff\xff\xff\xff\x00\x00\x00".to_vec();
        gif.extend_from_slice(&[
            0x2c, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 2, 2, 0x44, 0x01, 0, 0x3b,
        ]);
        assert!(matches!(
            reencode(&gif, ImageFormat::Gif, MAX),
            Err(PictureError::TooLarge { .. })
        ));
        // A JPEG whose frame header says 60000×60000.
        let mut jpeg = encoded(&photo(16, 16), ImageFormat::Jpeg);
        let sof = jpeg.windows(2).position(|w| w == [0xff, 0xc0]).unwrap();
        jpeg[sof + 5..sof + 9].copy_from_slice(&[0xea, 0x60, 0xea, 0x60]);
        assert!(matches!(
            reencode(&jpeg, ImageFormat::Jpeg, MAX),
            Err(PictureError::TooLarge { .. })
        ));
        // Within the side limit but over the pixel count.
        let big = encoded(&photo(300, 200), ImageFormat::Png);
        assert!(matches!(
            reencode(&big, ImageFormat::Png, 50_000),
            Err(PictureError::TooLarge { w: 300, h: 200, .. })
        ));
    }

    #[test]
    fn an_avatar_is_the_middle_square_turned_upright() {
        // Wide: red on the left, green in the middle, blue on the right.
        let wide = DynamicImage::ImageRgb8(RgbImage::from_fn(900, 300, |x, _| match x / 300 {
            0 => Rgb([255, 0, 0]),
            1 => Rgb([0, 255, 0]),
            _ => Rgb([0, 0, 255]),
        }));
        let (bytes, mime) = avatar(&encoded(&wide, ImageFormat::Png), ImageFormat::Png, MAX).unwrap();
        assert_eq!(mime, "image/jpeg");
        let out = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(out.dimensions(), (AVATAR_SIDE, AVATAR_SIDE));
        for (x, y) in [(5, 5), (128, 128), (250, 250)] {
            let Rgb([r, g, b]) = *out.get_pixel(x, y);
            assert!(
                g > 200 && r < 60 && b < 60,
                "only the green middle at {x},{y}: {r},{g},{b}"
            );
        }
        // A small transparent one grows and stays PNG.
        let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(40, 30, Rgba([1, 2, 3, 0])));
        let (bytes, mime) = avatar(&encoded(&clear, ImageFormat::Png), ImageFormat::Png, MAX).unwrap();
        assert_eq!(mime, "image/png");
        assert_eq!(image::load_from_memory(&bytes).unwrap().width(), AVATAR_SIDE);
        assert!(avatar(b"GIF89a", ImageFormat::Gif, MAX).is_err());
    }

    #[test]
    fn corrupt_bytes_are_an_error_not_a_panic() {
        let mut jpeg = encoded(&photo(64, 64), ImageFormat::Jpeg);
        jpeg.truncate(jpeg.len() / 3);
        assert!(reencode(&jpeg, ImageFormat::Jpeg, MAX).is_err());
        assert!(reencode(b"\x89PNG\r\n\x1a\nnonsense", ImageFormat::Png, MAX).is_err());
        assert!(reencode(b"", ImageFormat::WebP, MAX).is_err());
    }
}
