package org.edgekit.demo.core;

/**
 * A model's preprocessing as its description states it ({@link PreprocessSpec}), with the same
 * arithmetic as edgekit's {@code edgekit.preprocess} and PaddleClas's operators: resize (short
 * side or fixed size; OpenCV-exact bilinear, nearest or lanczos), centre crop, {@code (x * scale - mean) / std}
 * in float32 with the channels in RGB or BGR order, HWC to CHW.
 *
 * <p>Unlike Paddle-Lite-Demo's image classification app, which squashes the whole photo to
 * 224×224, this keeps the aspect ratio when the model's pipeline does, so the phone sees the
 * tensor the host sees.
 */
public final class Preprocessor {
    public static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f};
    public static final float[] IMAGENET_STD = {0.229f, 0.224f, 0.225f};

    private final PreprocessSpec spec;
    private final long[] inputShape;  // NCHW, -1 where dynamic

    /** {@code inputShape}: the model's NCHW input, -1 where dynamic; the tensor is checked against it. */
    public Preprocessor(PreprocessSpec spec, long[] inputShape) {
        if (spec.resizeShort > 0 && spec.crops() && spec.resizeShort < Math.min(spec.cropWidth, spec.cropHeight)) {
            throw new IllegalArgumentException("resize_short " + spec.resizeShort + " is smaller than the crop "
                    + spec.cropWidth + "x" + spec.cropHeight);
        }
        this.spec = spec;
        this.inputShape = inputShape.clone();
    }

    /** The preprocessing of a model as {@code edgekit app build} described it. */
    public static Preprocessor forModel(ModelDescription description) {
        return new Preprocessor(description.preprocess, description.inputShape);
    }

    /** ImageNet settings: 224 crop of a 256 short side, ImageNet mean/std. */
    public static Preprocessor imagenet() {
        return new Preprocessor(PreprocessSpec.imagenet(), new long[] {1, 3, 224, 224});
    }

    public PreprocessSpec spec() {
        return spec;
    }

    /** An RGB image → the float32 NCHW tensor the model takes. */
    public InputTensor apply(PixelSource rgb) {
        if (rgb.channels() != 3) {
            throw new IllegalArgumentException("expected an RGB image, got " + rgb.channels() + " channels");
        }
        Image8 image = centerCrop(resize(rgb));
        long[] shape = {1, 3, image.height(), image.width()};
        for (int i = 2; i < 4; i++) {
            if (inputShape[i] > 0 && inputShape[i] != shape[i]) {
                throw new IllegalArgumentException("the preprocessed image is " + image.width() + "x" + image.height()
                        + " but the model takes " + inputShape[3] + "x" + inputShape[2]);
            }
        }
        return new InputTensor(normalizeChw(image), shape);
    }

    /** Size after scaling the short side to {@code shortSide}: {width, height}, rounded as Python's round(). */
    public static int[] resizedSize(int width, int height, int shortSide) {
        double percent = (double) shortSide / Math.min(width, height);
        return new int[] {(int) Math.rint(width * percent), (int) Math.rint(height * percent)};
    }

    /** PaddleClas's ResizeImage: the short side to {@code resize_short}, or exactly {@code resize_size}. */
    public Image8 resize(PixelSource rgb) {
        int[] size;
        if (spec.resizeShort > 0) {
            size = resizedSize(rgb.width(), rgb.height(), spec.resizeShort);
        } else if (spec.resizeWidth > 0) {
            size = new int[] {spec.resizeWidth, spec.resizeHeight};
        } else {
            return Image8.copyOf(rgb);
        }
        if (PreprocessSpec.NEAREST.equals(spec.interpolation)) {
            return NearestResize.resize(rgb, size[0], size[1]);
        }
        if (PreprocessSpec.LANCZOS.equals(spec.interpolation)) {
            return LanczosResize.resize(rgb, size[0], size[1]);
        }
        return LinearResize.resize(rgb, size[0], size[1]);
    }

    /** The centred crop window, offsets rounded down as PaddleClas's CropImage does; the image itself without a crop. */
    public Image8 centerCrop(Image8 image) {
        if (!spec.crops()) {
            return image;
        }
        int w = spec.cropWidth;
        int h = spec.cropHeight;
        if (image.width() < w || image.height() < h) {
            throw new IllegalArgumentException("image of " + image.width() + "x" + image.height()
                    + " is smaller than the " + w + "x" + h + " crop");
        }
        return image.crop((image.width() - w) / 2, (image.height() - h) / 2, w, h);
    }

    /**
     * uint8 HWC RGB → float32 CHW in the model's channel order, {@code (x * scale - mean) / std}
     * evaluated in float32 like numpy (mean and std are in the model's channel order).
     */
    public float[] normalizeChw(Image8 image) {
        int plane = image.width() * image.height();
        byte[] pixels = image.pixels();
        float[] out = new float[3 * plane];
        float scale = spec.scale;
        for (int c = 0; c < 3; c++) {
            int from = spec.bgr ? 2 - c : c;
            float m = spec.mean[c];
            float s = spec.std[c];
            for (int i = 0; i < plane; i++) {
                float scaled = (pixels[3 * i + from] & 0xff) * scale;
                out[c * plane + i] = (scaled - m) / s;
            }
        }
        return out;
    }
}
