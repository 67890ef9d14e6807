package org.edgekit.demo.core;

/**
 * EXIF orientation (tag 0x0112, values 1–8). OpenCV's {@code imdecode} (and so edgekit) turns
 * JPEG photos upright by this tag; Android's BitmapFactory does not, so the demo applies it
 * while reading rows to see the picture edgekit sees.
 */
public final class Orientation {
    private Orientation() {
    }

    /** True when the upright picture has width and height of the stored one swapped (5–8). */
    public static boolean swapsAxes(int orientation) {
        return orientation >= 5 && orientation <= 8;
    }

    /**
     * The stored pixel (column, row) shown at upright position ({@code x}, {@code y}), for a
     * stored image of {@code width x height}. Unknown values (0, >8) mean "as stored".
     */
    public static int[] storedPosition(int orientation, int x, int y, int width, int height) {
        switch (orientation) {
            case 2: // mirrored horizontally
                return new int[] {width - 1 - x, y};
            case 3: // rotated 180°
                return new int[] {width - 1 - x, height - 1 - y};
            case 4: // mirrored vertically
                return new int[] {x, height - 1 - y};
            case 5: // transposed
                return new int[] {y, x};
            case 6: // stored rotated 90° counter-clockwise: show it rotated 90° clockwise
                return new int[] {y, height - 1 - x};
            case 7: // transverse
                return new int[] {width - 1 - y, height - 1 - x};
            case 8: // stored rotated 90° clockwise: show it rotated 90° counter-clockwise
                return new int[] {width - 1 - y, x};
            default:
                return new int[] {x, y};
        }
    }

    /** {@code stored} shown upright: a view that reads each upright row from the stored pixels. */
    public static PixelSource upright(final Image8 stored, final int orientation) {
        if (orientation < 2 || orientation > 8) {
            return stored;
        }
        final boolean swap = swapsAxes(orientation);
        final int width = swap ? stored.height() : stored.width();
        final int height = swap ? stored.width() : stored.height();
        final int cn = stored.channels();
        return new PixelSource() {
            @Override
            public int width() {
                return width;
            }

            @Override
            public int height() {
                return height;
            }

            @Override
            public int channels() {
                return cn;
            }

            @Override
            public void readRow(int y, byte[] out) {
                for (int x = 0; x < width; x++) {
                    int[] p = storedPosition(orientation, x, y, stored.width(), stored.height());
                    for (int c = 0; c < cn; c++) {
                        out[x * cn + c] = (byte) stored.get(p[0], p[1], c);
                    }
                }
            }
        };
    }
}
