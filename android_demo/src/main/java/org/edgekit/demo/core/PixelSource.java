package org.edgekit.demo.core;

/**
 * An 8-bit image read one row at a time, channels interleaved (R, G, B for colour images).
 *
 * Resizing a phone photo only needs two source rows at a time, so the demo reads big
 * bitmaps row by row instead of copying all their pixels into a second array.
 */
public interface PixelSource {
    int width();

    int height();

    int channels();

    /** Fills {@code out[0 .. width*channels)} with row {@code y} (0 = top). */
    void readRow(int y, byte[] out);
}
