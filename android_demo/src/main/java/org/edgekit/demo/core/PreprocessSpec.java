package org.edgekit.demo.core;

import java.util.Arrays;
import java.util.Locale;

/**
 * How a model's input is prepared, as edgekit describes it (the {@code preprocess} object of
 * {@code description.json}, edgekit's {@code PreprocessSpec}): PaddleClas's {@code ResizeImage}
 * (short side, or a fixed width × height), {@code CropImage} (centred, width × height),
 * {@code NormalizeImage} ({@code (x * scale - mean) / std}) and {@code ToCHWImage}, with the
 * channels fed in RGB or BGR order. Immutable; checked when made.
 */
public final class PreprocessSpec {
    /** The resize filters the app reproduces byte for byte (OpenCV's INTER_LINEAR, _NEAREST, _LANCZOS4). */
    public static final String BILINEAR = "bilinear";
    public static final String NEAREST = "nearest";
    public static final String LANCZOS = "lanczos";

    public final int resizeShort;   // 0: no short-side resize
    public final int resizeWidth;   // 0: no fixed-size resize
    public final int resizeHeight;
    public final String interpolation;
    public final int cropWidth;     // 0: no crop
    public final int cropHeight;
    public final float scale;
    public final float[] mean;      // in channel_order
    public final float[] std;
    public final boolean bgr;

    public PreprocessSpec(int resizeShort, int resizeWidth, int resizeHeight, String interpolation, int cropWidth,
                          int cropHeight, double scale, float[] mean, float[] std, String channelOrder) {
        if (resizeShort < 0 || resizeWidth < 0 || resizeHeight < 0 || cropWidth < 0 || cropHeight < 0) {
            throw new IllegalArgumentException("negative size in the preprocessing");
        }
        if (resizeShort > 0 && (resizeWidth > 0 || resizeHeight > 0)) {
            throw new IllegalArgumentException("resize_short and resize_size exclude each other");
        }
        if ((resizeWidth > 0) != (resizeHeight > 0) || (cropWidth > 0) != (cropHeight > 0)) {
            throw new IllegalArgumentException("a resize or crop size needs both a width and a height");
        }
        if (!BILINEAR.equals(interpolation) && !NEAREST.equals(interpolation) && !LANCZOS.equals(interpolation)) {
            throw new IllegalArgumentException("the app resizes with bilinear, nearest or lanczos only (OpenCV-exact), "
                    + "not " + interpolation);
        }
        if (mean.length != 3 || std.length != 3) {
            throw new IllegalArgumentException("mean and std need 3 values");
        }
        if (!"RGB".equals(channelOrder) && !"BGR".equals(channelOrder)) {
            throw new IllegalArgumentException("channel_order must be RGB or BGR, not " + channelOrder);
        }
        this.resizeShort = resizeShort;
        this.resizeWidth = resizeWidth;
        this.resizeHeight = resizeHeight;
        this.interpolation = interpolation;
        this.cropWidth = cropWidth;
        this.cropHeight = cropHeight;
        // numpy's np.float32(scale): the double rounded once to float (1/255 for the usual 0.00392...).
        this.scale = (float) scale;
        this.mean = mean.clone();
        this.std = std.clone();
        this.bgr = "BGR".equals(channelOrder);
    }

    /** PaddleClas's ImageNet evaluation: short side 256, bilinear, 224×224 crop, 1/255, ImageNet mean/std, RGB. */
    public static PreprocessSpec imagenet() {
        return new PreprocessSpec(256, 0, 0, BILINEAR, 224, 224, 1.0 / 255.0, Preprocessor.IMAGENET_MEAN,
                Preprocessor.IMAGENET_STD, "RGB");
    }

    public boolean crops() {
        return cropWidth > 0;
    }

    public String channelOrder() {
        return bgr ? "BGR" : "RGB";
    }

    /**
     * The tensor's {width, height} whatever the photo, or null when it depends on the photo
     * (a short-side resize, or no resize, without a crop).
     */
    public int[] fixedOutputSize() {
        if (crops()) {
            return new int[] {cropWidth, cropHeight};
        }
        if (resizeWidth > 0) {
            return new int[] {resizeWidth, resizeHeight};
        }
        return null;
    }

    @Override
    public String toString() {
        String resize = resizeShort > 0 ? "short side " + resizeShort
                : resizeWidth > 0 ? resizeWidth + "x" + resizeHeight : "no resize";
        String crop = crops() ? "crop " + cropWidth + "x" + cropHeight : "no crop";
        return String.format(Locale.ROOT, "%s (%s), %s, scale %s, mean %s, std %s, %s", resize, interpolation, crop,
                scale, Arrays.toString(mean), Arrays.toString(std), channelOrder());
    }
}
