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
// image, and derives the thumbnail and the hash from the preview. A
// Processor bounds what all its decodes hold at once with one Budget,
// counted in bytes of the decoded format (DecodeCost), and refuses before
// decoding an image that needs more than the whole budget.
//
// JPEGs are decoded at full scale, not reduced in the DCT domain: the
// standard library's decoder has no scaled decoding, and libjpeg's needs
// cgo, which the single static binary avoids. A 1/2 or 1/4 scale would
// still serve the 1280 px preview for photos of 2560 px and more; the
// budget bounds their memory instead (a 12-megapixel 4:2:0 JPEG costs
// about 50 MB with its working copies, so two decode side by side).
package photo
