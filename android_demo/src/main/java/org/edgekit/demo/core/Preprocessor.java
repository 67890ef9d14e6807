package org.edgekit.demo.core;

/**
 * PaddleClas's evaluation transform, with the same arithmetic as edgekit's
 * {@code edgekit.preprocess.Preprocess}: resize the short side (OpenCV bilinear), center-crop,
 * scale by 1/255, subtract the mean, divide by the standard deviation, HWC to CHW, all in float32.
 *
 * <p>Unlike Paddle-Lite-Demo's image classification app, which squashes the whole photo to
 * 224×224, this keeps the aspect ratio like PaddleClas does, so the phone sees the tensor the
 * host sees.
 */
public final class Preprocessor {
    public static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f};
    public static final float[] IMAGENET_STD = {0.229f, 0.224f, 0.225f};
    // numpy's np.float32(1.0 / 255.0): the double quotient rounded once to float.
    private static final float INV_255 = (float) (1.0 / 255.0);

    private final int crop;
    private final int resizeShort;
    private final float[] mean;
    private final float[] std;

    /** {@code resizeShort} 0 means PaddleClas's default, {@code round(crop / 0.875)} (256 for 224). */
    public Preprocessor(int crop, int resizeShort, float[] mean, float[] std) {
        if (crop <= 0) {
            throw new IllegalArgumentException("crop size must be positive, got " + crop);
        }
        if (mean.length != 3 || std.length != 3) {
            throw new IllegalArgumentException("mean and std need 3 values (R, G, B)");
        }
        this.crop = crop;
        this.resizeShort = resizeShort > 0 ? resizeShort : (int) Math.rint(crop / 0.875);
        if (this.resizeShort < crop) {
            throw new IllegalArgumentException("resize_short " + this.resizeShort + " is smaller than the crop " + crop);
        }
        this.mean = mean.clone();
        this.std = std.clone();
    }

    /** ImageNet settings: 224 crop of a 256 short side, ImageNet mean/std. */
    public static Preprocessor imagenet() {
        return new Preprocessor(224, 256, IMAGENET_MEAN, IMAGENET_STD);
    }

    public int crop() {
        return crop;
    }

    public int resizeShort() {
        return resizeShort;
    }

    /** The model input shape, NCHW with batch 1. */
    public long[] inputShape() {
        return new long[] {1, 3, crop, crop};
    }

    /** An RGB image → the float32 CHW tensor the model takes. */
    public float[] apply(PixelSource rgb) {
        if (rgb.channels() != 3) {
            throw new IllegalArgumentException("expected an RGB image, got " + rgb.channels() + " channels");
        }
        return normalizeChw(centerCrop(resizeShortSide(rgb)));
    }

    /** Size after scaling the short side to {@code shortSide}: {width, height}, rounded as Python's round(). */
    public static int[] resizedSize(int width, int height, int shortSide) {
        double percent = (double) shortSide / Math.min(width, height);
        return new int[] {(int) Math.rint(width * percent), (int) Math.rint(height * percent)};
    }

    public Image8 resizeShortSide(PixelSource rgb) {
        int[] size = resizedSize(rgb.width(), rgb.height(), resizeShort);
        return LinearResize.resize(rgb, size[0], size[1]);
    }

    /** The centered {@code crop x crop} window, offsets rounded down as PaddleClas's CropImage does. */
    public Image8 centerCrop(Image8 image) {
        if (image.width() < crop || image.height() < crop) {
            throw new IllegalArgumentException("image of " + image.width() + "x" + image.height()
                    + " is smaller than the " + crop + "x" + crop + " crop");
        }
        return image.crop((image.width() - crop) / 2, (image.height() - crop) / 2, crop, crop);
    }

    /** uint8 HWC → float32 CHW, {@code (x * (1/255) - mean) / std} evaluated in float32 like numpy. */
    public float[] normalizeChw(Image8 image) {
        int plane = image.width() * image.height();
        byte[] pixels = image.pixels();
        float[] out = new float[3 * plane];
        for (int c = 0; c < 3; c++) {
            float m = mean[c];
            float s = std[c];
            for (int i = 0; i < plane; i++) {
                float scaled = (pixels[3 * i + c] & 0xff) * INV_255;
                out[c * plane + i] = (scaled - m) / s;
            }
        }
        return out;
    }
}
