package org.edgekit.demo.core;

/**
 * Bilinear resizing of 8-bit images that gives the same bytes as OpenCV 4.x's
 * {@code cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)}, which is what PaddleClas
 * (and edgekit on the host) use for the resize-short step.
 *
 * <p>The arithmetic is OpenCV's fixed-point path for 8-bit images, reproduced step by step:
 * <ul>
 *   <li>scale factors are {@code 1 / (dst / src)} in double precision (not src / dst);</li>
 *   <li>the source coordinate of each output column/row is computed in double and rounded to
 *       float, its fraction taken in float, and the two weights {@code 1 - f} and {@code f} are
 *       turned into 11-bit integers (× 2048, rounded half to even);</li>
 *   <li>positions left of the first pixel and right of the last one use that pixel alone;
 *       rows above/below are clamped to the first/last row;</li>
 *   <li>the horizontal pass keeps exact integer sums (pixel × weight); the vertical pass drops
 *       4 bits from each, multiplies by the row weight keeping the high 16 bits (SIMD
 *       {@code mulhi}), adds the two rows and rounds away the last 2 bits. OpenCV's scalar
 *       fallback does the same, so the result does not depend on SIMD width;</li>
 *   <li>an exact 2× reduction in both directions is OpenCV's "area" fast path: the rounded
 *       mean of each 2×2 block;</li>
 *   <li>the same size in and out is a plain copy.</li>
 * </ul>
 */
public final class LinearResize {
    static final int COEF_BITS = 11;
    static final int COEF_SCALE = 1 << COEF_BITS;
    private static final double DBL_EPSILON = Math.ulp(1.0);

    private LinearResize() {
    }

    /** {@code source} resized to {@code width x height}. */
    public static Image8 resize(PixelSource source, int width, int height) {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("target size " + width + "x" + height + " is empty");
        }
        int sw = source.width();
        int sh = source.height();
        if (sw == width && sh == height) {
            return Image8.copyOf(source);
        }
        double scaleX = 1.0 / ((double) width / sw);
        double scaleY = 1.0 / ((double) height / sh);
        if (isExactHalving(scaleX) && isExactHalving(scaleY)) {
            return halve(source, width, height);
        }
        return bilinear(source, width, height, scaleX, scaleY);
    }

    private static boolean isExactHalving(double scale) {
        return Math.abs(scale - Math.rint(scale)) < DBL_EPSILON && Math.rint(scale) == 2.0;
    }

    /** Column (or row) sampling positions with their fixed-point weights. */
    static final class Axis {
        final int[] index;      // first source pixel
        final int[] weight0;    // its weight, 0..2048
        final int[] weight1;    // weight of the next pixel
        final int inside;       // positions from here on use pixel `index` alone (right edge)

        private Axis(int[] index, int[] weight0, int[] weight1, int inside) {
            this.index = index;
            this.weight0 = weight0;
            this.weight1 = weight1;
            this.inside = inside;
        }

        /** Horizontal positions: out-of-range ones clamp to the edge pixel with weight 1. */
        static Axis columns(int sourceSize, int size, double scale) {
            int[] index = new int[size];
            int[] w0 = new int[size];
            int[] w1 = new int[size];
            int inside = size;
            for (int d = 0; d < size; d++) {
                float f = (float) ((d + 0.5) * scale - 0.5);
                int s = floor(f);
                f -= s;
                if (s < 0) {
                    f = 0f;
                    s = 0;
                }
                if (s + 1 >= sourceSize) {
                    inside = Math.min(inside, d);
                    if (s >= sourceSize - 1) {
                        f = 0f;
                        s = sourceSize - 1;
                    }
                }
                index[d] = s;
                w0[d] = fixedPoint(1f - f);
                w1[d] = fixedPoint(f);
            }
            return new Axis(index, w0, w1, inside);
        }

        /** Vertical positions: kept as computed; the rows are clamped when read. */
        static Axis rows(int size, double scale) {
            int[] index = new int[size];
            int[] w0 = new int[size];
            int[] w1 = new int[size];
            for (int d = 0; d < size; d++) {
                float f = (float) ((d + 0.5) * scale - 0.5);
                int s = floor(f);
                f -= s;
                index[d] = s;
                w0[d] = fixedPoint(1f - f);
                w1[d] = fixedPoint(f);
            }
            return new Axis(index, w0, w1, size);
        }
    }

    /** OpenCV's cvFloor for floats. */
    static int floor(float value) {
        int truncated = (int) value;
        return truncated - (truncated > value ? 1 : 0);
    }

    /** A weight in [0, 1] as an 11-bit fixed-point integer, rounded half to even like cvRound. */
    static int fixedPoint(float weight) {
        return (int) Math.rint(weight * COEF_SCALE);
    }

    private static Image8 bilinear(PixelSource source, int width, int height, double scaleX, double scaleY) {
        int cn = source.channels();
        int sh = source.height();
        Axis columns = Axis.columns(source.width(), width, scaleX);
        Axis rows = Axis.rows(height, scaleY);
        HorizontalPass horizontal = new HorizontalPass(source, columns, width * cn);
        byte[] out = new byte[width * height * cn];
        for (int dy = 0; dy < height; dy++) {
            int[] top = horizontal.row(clamp(rows.index[dy], sh));
            int[] bottom = horizontal.row(clamp(rows.index[dy] + 1, sh));
            blendRows(top, bottom, rows.weight0[dy], rows.weight1[dy], out, dy * width * cn);
        }
        return new Image8(width, height, cn, out);
    }

    private static int clamp(int row, int rows) {
        return row < 0 ? 0 : (row >= rows ? rows - 1 : row);
    }

    /** The vertical step, exactly as OpenCV's SIMD and scalar code compute it for 8-bit output. */
    static void blendRows(int[] top, int[] bottom, int b0, int b1, byte[] out, int offset) {
        for (int x = 0; x < top.length; x++) {
            int value = (((b0 * (top[x] >> 4)) >> 16) + ((b1 * (bottom[x] >> 4)) >> 16) + 2) >> 2;
            out[offset + x] = (byte) value;
        }
    }

    /** Horizontally interpolated source rows, computed once each and kept while needed. */
    private static final class HorizontalPass {
        private final PixelSource source;
        private final Axis columns;
        private final byte[] sourceRow;
        private final int[][] cache = new int[2][];
        private final int[] cachedRow = {-1, -1};
        private int nextSlot;

        HorizontalPass(PixelSource source, Axis columns, int outputLength) {
            this.source = source;
            this.columns = columns;
            this.sourceRow = new byte[source.width() * source.channels()];
            cache[0] = new int[outputLength];
            cache[1] = new int[outputLength];
        }

        int[] row(int y) {
            for (int slot = 0; slot < 2; slot++) {
                if (cachedRow[slot] == y) {
                    return cache[slot];
                }
            }
            int slot = nextSlot;
            nextSlot = 1 - nextSlot;
            source.readRow(y, sourceRow);
            interpolate(sourceRow, source.channels(), columns, cache[slot]);
            cachedRow[slot] = y;
            return cache[slot];
        }
    }

    /** Exact integer sums pixel × weight for every output column and channel. */
    static void interpolate(byte[] row, int cn, Axis columns, int[] out) {
        int width = columns.index.length;
        for (int dx = 0; dx < width; dx++) {
            int s = columns.index[dx] * cn;
            for (int c = 0; c < cn; c++) {
                int left = row[s + c] & 0xff;
                if (dx < columns.inside) {
                    out[dx * cn + c] = left * columns.weight0[dx] + (row[s + cn + c] & 0xff) * columns.weight1[dx];
                } else {
                    out[dx * cn + c] = left * COEF_SCALE;
                }
            }
        }
    }

    /** OpenCV's area fast path for an exact 2× reduction: rounded mean of each 2×2 block. */
    private static Image8 halve(PixelSource source, int width, int height) {
        int cn = source.channels();
        byte[] upper = new byte[source.width() * cn];
        byte[] lower = new byte[source.width() * cn];
        byte[] out = new byte[width * height * cn];
        for (int dy = 0; dy < height; dy++) {
            source.readRow(2 * dy, upper);
            source.readRow(2 * dy + 1, lower);
            int o = dy * width * cn;
            for (int dx = 0; dx < width; dx++) {
                int left = 2 * dx * cn;
                for (int c = 0; c < cn; c++) {
                    int sum = (upper[left + c] & 0xff) + (upper[left + cn + c] & 0xff)
                            + (lower[left + c] & 0xff) + (lower[left + cn + c] & 0xff);
                    out[o + dx * cn + c] = (byte) ((sum + 2) >> 2);
                }
            }
        }
        return new Image8(width, height, cn, out);
    }
}
