package org.edgekit.demo;

import android.graphics.Bitmap;

import org.edgekit.demo.core.Argb;
import org.edgekit.demo.core.Orientation;
import org.edgekit.demo.core.PixelSource;

/**
 * A decoded photo as RGB rows, turned upright by its EXIF orientation as OpenCV's imdecode does.
 * Rows are read from the bitmap on demand (a stored row, or a stored column for the rotated
 * orientations), so a 12-megapixel photo is not copied a second time.
 */
final class BitmapSource implements PixelSource {
    private final Bitmap bitmap;
    private final int orientation;
    private final int width;
    private final int height;
    private final int[] line;

    BitmapSource(Bitmap bitmap, int orientation) {
        this.bitmap = bitmap;
        this.orientation = orientation;
        boolean swap = Orientation.swapsAxes(orientation);
        this.width = swap ? bitmap.getHeight() : bitmap.getWidth();
        this.height = swap ? bitmap.getWidth() : bitmap.getHeight();
        this.line = new int[Math.max(bitmap.getWidth(), bitmap.getHeight())];
    }

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
        return 3;
    }

    @Override
    public void readRow(int y, byte[] out) {
        int storedWidth = bitmap.getWidth();
        int storedHeight = bitmap.getHeight();
        int[] first = Orientation.storedPosition(orientation, 0, y, storedWidth, storedHeight);
        int[] last = Orientation.storedPosition(orientation, width - 1, y, storedWidth, storedHeight);
        boolean alongRow = !Orientation.swapsAxes(orientation);
        if (alongRow) {
            bitmap.getPixels(line, 0, storedWidth, 0, first[1], storedWidth, 1);
        } else {
            bitmap.getPixels(line, 0, 1, first[0], 0, 1, storedHeight);
        }
        int start = alongRow ? first[0] : first[1];
        int end = alongRow ? last[0] : last[1];
        if (end >= start) {
            Argb.toRgb(line, start, out, 0, width);
        } else {
            for (int x = 0; x < width; x++) {
                Argb.toRgb(line, start - x, out, 3 * x, 1);
            }
        }
    }
}
