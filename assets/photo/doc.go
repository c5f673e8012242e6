// Package photo turns an uploaded photo into what the evidence checks need:
// it sniffs the type from the bytes (JPEG and PNG only), reads the declared
// dimensions before decoding so a decompression bomb costs nothing, decodes
// once, honours the EXIF orientation, writes a preview (≈1280 px) and a
// thumbnail (≈256 px), extracts the EXIF capture time and GPS fix, and
// computes a 64-bit perceptual hash.
//
// Memory is the constraint on a 2-core county server: a 12-megapixel JPEG
// decodes to 18 MB of YCbCr, and every further full-size copy would double
// that. So the pipeline shrinks the decoded image by an integer box filter
// straight from YCbCr first, then orients and resamples only the small
// image, and derives the thumbnail and the hash from the preview.
package photo
