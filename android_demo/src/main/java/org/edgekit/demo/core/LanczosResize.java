package org.edgekit.demo.core;

/**
 * Lanczos resizing of 8-bit images that gives the same bytes as OpenCV 4.x's
 * {@code cv2.resize(img, (w, h), interpolation=cv2.INTER_LANCZOS4)} (PaddleClas's
 * {@code interpolation: lanczos}), following OpenCV's generic fixed-point path for 8-bit images,
 * which has no SIMD variant for this filter (so its bytes do not depend on the CPU):
 * <ul>
 *   <li>scale factors {@code 1 / (dst / src)}; the source position of output {@code d} is
 *       {@code (float) ((d + 0.5) * scale - 0.5)}, its floor the centre tap, its fraction
 *       {@code f} (float) weighs the 8 taps {@code -3 .. +4};</li>
 *   <li>the 8 weights are OpenCV's {@code interpolateLanczos4(f)} — the sine of the first
 *       position and rotations by 45° for the others, over {@code y²}, in double, each rounded to
 *       float, normalised by their float sum — then × 2048 rounded half to even;</li>
 *   <li>taps outside the image repeat the edge pixel (rows and columns alike);</li>
 *   <li>the horizontal pass keeps exact int sums, the vertical one adds the 8 weighted rows in int
 *       and rounds away 22 bits, saturating to 0..255;</li>
 *   <li>the same size in and out is a plain copy.</li>
 * </ul>
 * The sines and cosines use {@code StrictMath} (fdlibm, the same on every JVM and on Android);
 * the tests compare the result with {@code cv2.resize} (glibc's sin/cos) byte for byte.
 */
public final class LanczosResize {
    static final int TAPS = 8;
    private static final double S45 = 0.70710678118654752440084436210485;
    private static final double[][] CS = {
        {1, 0}, {-S45, -S45}, {0, 1}, {S45, -S45}, {-1, 0}, {S45, S45}, {0, -1}, {-S45, S45},
    };

    private LanczosResize() {
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
        int cn = source.channels();
        Axis columns = new Axis(sw, width);
        Axis rows = new Axis(sh, height);
        HorizontalPass horizontal = new HorizontalPass(source, columns);
        byte[] out = new byte[width * height * cn];
        int[][] taps = new int[TAPS][];
        int rowLength = width * cn;
        for (int dy = 0; dy < height; dy++) {
            for (int k = 0; k < TAPS; k++) {
                taps[k] = horizontal.row(clamp(rows.index[dy] - 3 + k, sh));
            }
            int[] beta = rows.weights[dy];
            int offset = dy * rowLength;
            for (int x = 0; x < rowLength; x++) {
                int sum = 0;
                for (int k = 0; k < TAPS; k++) {
                    sum += taps[k][x] * beta[k];
                }
                int value = (sum + (1 << 21)) >> 22;
                out[offset + x] = (byte) (value < 0 ? 0 : (value > 255 ? 255 : value));
            }
        }
        return new Image8(width, height, cn, out);
    }

    private static int clamp(int i, int size) {
        return i < 0 ? 0 : (i >= size ? size - 1 : i);
    }

    /** Centre taps and fixed-point weights of every output position along one axis. */
    static final class Axis {
        final int[] index;
        final int[][] weights;

        Axis(int sourceSize, int size) {
            double scale = 1.0 / ((double) size / sourceSize);
            index = new int[size];
            weights = new int[size][];
            for (int d = 0; d < size; d++) {
                float f = (float) ((d + 0.5) * scale - 0.5);
                int s = LinearResize.floor(f);
                f -= s;
                index[d] = s;
                weights[d] = fixedPoint(coefficients(f));
            }
        }
    }

    /** OpenCV's interpolateLanczos4 for a fraction {@code x} in [0, 1), in its float/double steps. */
    static float[] coefficients(float x) {
        float[] coeffs = new float[TAPS];
        float x3 = x + 3f;
        double y0 = -x3 * Math.PI * 0.25;
        double s0 = StrictMath.sin(y0);
        double c0 = StrictMath.cos(y0);
        float sum = 0f;
        for (int i = 0; i < TAPS; i++) {
            double yi = x3 - i;  // float subtraction, then widened, as in OpenCV
            if (Math.abs(yi) >= 1e-6f) {
                double y = -yi * Math.PI * 0.25;
                coeffs[i] = (float) ((CS[i][0] * s0 + CS[i][1] * c0) / (y * y));
            } else {
                coeffs[i] = 1e30f;
            }
            sum += coeffs[i];
        }
        float inverse = 1f / sum;
        for (int i = 0; i < TAPS; i++) {
            coeffs[i] *= inverse;
        }
        return coeffs;
    }

    /** The weights as 11-bit fixed point, rounded half to even (saturate_cast&lt;short&gt;). */
    static int[] fixedPoint(float[] coeffs) {
        int[] out = new int[coeffs.length];
        for (int i = 0; i < coeffs.length; i++) {
            double v = Math.rint(coeffs[i] * LinearResize.COEF_SCALE);
            out[i] = (int) Math.max(Short.MIN_VALUE, Math.min(Short.MAX_VALUE, v));
        }
        return out;
    }

    /** Horizontally filtered source rows, the last 8 kept (neighbouring output rows share taps). */
    private static final class HorizontalPass {
        private final PixelSource source;
        private final Axis columns;
        private final byte[] sourceRow;
        private final int[][] cache = new int[TAPS][];
        private final int[] cachedRow = new int[TAPS];
        private int nextSlot;

        HorizontalPass(PixelSource source, Axis columns) {
            this.source = source;
            this.columns = columns;
            this.sourceRow = new byte[source.width() * source.channels()];
            java.util.Arrays.fill(cachedRow, -1);
        }

        int[] row(int y) {
            for (int slot = 0; slot < TAPS; slot++) {
                if (cachedRow[slot] == y) {
                    return cache[slot];
                }
            }
            int slot = nextSlot;
            nextSlot = (nextSlot + 1) % TAPS;
            source.readRow(y, sourceRow);
            int cn = source.channels();
            int sw = source.width();
            int width = columns.index.length;
            int[] out = new int[width * cn];
            for (int dx = 0; dx < width; dx++) {
                int[] alpha = columns.weights[dx];
                int first = columns.index[dx] - 3;
                for (int c = 0; c < cn; c++) {
                    int sum = 0;
                    for (int j = 0; j < TAPS; j++) {
                        sum += (sourceRow[clamp(first + j, sw) * cn + c] & 0xff) * alpha[j];
                    }
                    out[dx * cn + c] = sum;
                }
            }
            cache[slot] = out;
            cachedRow[slot] = y;
            return out;
        }
    }
}
