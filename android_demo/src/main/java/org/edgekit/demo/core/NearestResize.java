package org.edgekit.demo.core;

/**
 * Nearest-neighbour resizing of 8-bit images that gives the same bytes as OpenCV 4.x's
 * {@code cv2.resize(img, (w, h), interpolation=cv2.INTER_NEAREST)}: output column {@code x}
 * takes source column {@code floor(x * (1 / (w / src_w)))}, clamped to the last column (rows
 * likewise), the scale computed in double precision as OpenCV computes it. Note that this is
 * not the pixel-centre rule of {@code INTER_NEAREST_EXACT}: OpenCV's nearest is biased to the
 * top-left, and PaddleClas's {@code interpolation: nearest} means this one.
 */
public final class NearestResize {
    private NearestResize() {
    }

    /** {@code source} resized to {@code width x height}. */
    public static Image8 resize(PixelSource source, int width, int height) {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("target size " + width + "x" + height + " is empty");
        }
        int cn = source.channels();
        int[] columns = positions(source.width(), width);
        int[] rows = positions(source.height(), height);
        byte[] row = new byte[source.width() * cn];
        byte[] out = new byte[width * height * cn];
        int loaded = -1;
        for (int dy = 0; dy < height; dy++) {
            if (rows[dy] != loaded) {
                source.readRow(rows[dy], row);
                loaded = rows[dy];
            }
            int o = dy * width * cn;
            for (int dx = 0; dx < width; dx++) {
                System.arraycopy(row, columns[dx] * cn, out, o + dx * cn, cn);
            }
        }
        return new Image8(width, height, cn, out);
    }

    /** The source index of every output position (OpenCV's resizeNN offsets). */
    static int[] positions(int sourceSize, int size) {
        double inverse = 1.0 / ((double) size / sourceSize);
        int[] index = new int[size];
        for (int d = 0; d < size; d++) {
            index[d] = Math.min((int) Math.floor(d * inverse), sourceSize - 1);
        }
        return index;
    }
}
