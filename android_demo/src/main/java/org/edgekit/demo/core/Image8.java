package org.edgekit.demo.core;

/** An 8-bit image held in memory: rows top to bottom, channels interleaved. */
public final class Image8 implements PixelSource {
    private final int width;
    private final int height;
    private final int channels;
    private final byte[] pixels;

    public Image8(int width, int height, int channels, byte[] pixels) {
        if (width <= 0 || height <= 0 || channels <= 0) {
            throw new IllegalArgumentException("image size " + width + "x" + height + "x" + channels + " is empty");
        }
        if (pixels.length != (long) width * height * channels) {
            throw new IllegalArgumentException("expected " + ((long) width * height * channels)
                    + " bytes for " + width + "x" + height + "x" + channels + ", got " + pixels.length);
        }
        this.width = width;
        this.height = height;
        this.channels = channels;
        this.pixels = pixels;
    }

    /** An RGB image from packed 0xAARRGGBB ints (what Android's Bitmap.getPixels returns). */
    public static Image8 fromArgb(int[] argb, int width, int height) {
        byte[] rgb = new byte[width * height * 3];
        Argb.toRgb(argb, 0, rgb, 0, width * height);
        return new Image8(width, height, 3, rgb);
    }

    /** Reads every row of {@code source} into memory. */
    public static Image8 copyOf(PixelSource source) {
        int rowBytes = source.width() * source.channels();
        byte[] pixels = new byte[rowBytes * source.height()];
        byte[] row = new byte[rowBytes];
        for (int y = 0; y < source.height(); y++) {
            source.readRow(y, row);
            System.arraycopy(row, 0, pixels, y * rowBytes, rowBytes);
        }
        return new Image8(source.width(), source.height(), source.channels(), pixels);
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
        return channels;
    }

    /** The backing array (not a copy). */
    public byte[] pixels() {
        return pixels;
    }

    /** The sample at column {@code x}, row {@code y}, channel {@code c}, as 0..255. */
    public int get(int x, int y, int c) {
        return pixels[(y * width + x) * channels + c] & 0xff;
    }

    @Override
    public void readRow(int y, byte[] out) {
        System.arraycopy(pixels, y * width * channels, out, 0, width * channels);
    }

    /** The {@code w x h} window whose top-left corner is ({@code left}, {@code top}). */
    public Image8 crop(int left, int top, int w, int h) {
        if (left < 0 || top < 0 || w <= 0 || h <= 0 || left + w > width || top + h > height) {
            throw new IllegalArgumentException("crop " + w + "x" + h + "+" + left + "+" + top
                    + " does not fit in " + width + "x" + height);
        }
        byte[] out = new byte[w * h * channels];
        for (int y = 0; y < h; y++) {
            System.arraycopy(pixels, ((top + y) * width + left) * channels, out, y * w * channels, w * channels);
        }
        return new Image8(w, h, channels, out);
    }
}
