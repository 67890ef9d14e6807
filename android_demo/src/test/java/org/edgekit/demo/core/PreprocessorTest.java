package org.edgekit.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import org.junit.Test;

public class PreprocessorTest {
    private static final long[] DYNAMIC = {1, 3, -1, -1};

    private static PreprocessSpec spec(int resizeShort, int resizeW, int resizeH, String interpolation, int cropW,
                                       int cropH, String order) {
        return new PreprocessSpec(resizeShort, resizeW, resizeH, interpolation, cropW, cropH, 1.0 / 255.0,
                Preprocessor.IMAGENET_MEAN, Preprocessor.IMAGENET_STD, order);
    }

    /** 5x4 RGB whose pixel i has R = i, G = 100 + i, B = 200 + i. */
    private static Image8 ramp() {
        byte[] pixels = new byte[5 * 4 * 3];
        for (int i = 0; i < 20; i++) {
            pixels[3 * i] = (byte) i;
            pixels[3 * i + 1] = (byte) (100 + i);
            pixels[3 * i + 2] = (byte) (200 + i);
        }
        return new Image8(5, 4, 3, pixels);
    }

    @Test
    public void shortSideScalingRoundsLikePython() {
        assertArrayEquals(new int[] {341, 256}, Preprocessor.resizedSize(500, 375, 256));
        assertArrayEquals(new int[] {256, 341}, Preprocessor.resizedSize(375, 500, 256));
        // halves go to the even neighbour, as Python's round() does: 7.5 -> 8, 4.5 -> 4
        assertArrayEquals(new int[] {8, 3}, Preprocessor.resizedSize(5, 2, 3));
        assertArrayEquals(new int[] {4, 3}, Preprocessor.resizedSize(3, 2, 3));
    }

    @Test
    public void imagenetIsShortSide256Crop224() {
        PreprocessSpec s = Preprocessor.imagenet().spec();
        assertEquals(256, s.resizeShort);
        assertEquals(224, s.cropWidth);
        assertEquals(224, s.cropHeight);
        assertEquals((float) (1.0 / 255.0), s.scale, 0f);
    }

    @Test
    public void centerCropRoundsTheOffsetsDownAndMayBeNonSquare() {
        Preprocessor p = new Preprocessor(spec(0, 0, 0, "bilinear", 3, 2, "RGB"), DYNAMIC);
        Image8 crop = p.centerCrop(ramp());
        // left = (5 - 3) / 2 = 1, top = (4 - 2) / 2 = 1: pixels 6, 7, 8 / 11, 12, 13
        assertEquals(3, crop.width());
        assertEquals(2, crop.height());
        assertEquals(6, crop.get(0, 0, 0));
        assertEquals(108, crop.get(2, 0, 1));
        assertEquals(211, crop.get(0, 1, 2));
        assertEquals(13, crop.get(2, 1, 0));
    }

    @Test
    public void normalizationIsFloat32AndChannelsFirst() {
        byte[] rgb = {(byte) 255, 0, (byte) 128, 10, 20, 30};
        Image8 image = new Image8(2, 1, 3, rgb);
        float[] out = Preprocessor.imagenet().normalizeChw(image);
        float inv = (float) (1.0 / 255.0);
        assertEquals(6, out.length);
        assertEquals((255 * inv - 0.485f) / 0.229f, out[0], 0f);   // R of pixel 0
        assertEquals((10 * inv - 0.485f) / 0.229f, out[1], 0f);    // R of pixel 1
        assertEquals((0 * inv - 0.456f) / 0.224f, out[2], 0f);     // G of pixel 0
        assertEquals((30 * inv - 0.406f) / 0.225f, out[5], 0f);    // B of pixel 1
    }

    @Test
    public void bgrFeedsBlueFirstWithTheMeanInThatOrderAndAnyScale() {
        float[] mean = {0.5f, 0.25f, 0.125f};
        float[] std = {2f, 4f, 8f};
        PreprocessSpec bgr = new PreprocessSpec(0, 0, 0, "bilinear", 0, 0, 1.0 / 128.0, mean, std, "BGR");
        byte[] rgb = {(byte) 255, 0, (byte) 128};
        float[] out = new Preprocessor(bgr, DYNAMIC).normalizeChw(new Image8(1, 1, 3, rgb));
        float scale = (float) (1.0 / 128.0);
        assertEquals((128 * scale - 0.5f) / 2f, out[0], 0f);     // B first, with mean[0], std[0]
        assertEquals((0 * scale - 0.25f) / 4f, out[1], 0f);
        assertEquals((255 * scale - 0.125f) / 8f, out[2], 0f);   // R last
    }

    @Test
    public void fixedSizeResizeIgnoresTheAspectRatioAndGivesTheShape() {
        Preprocessor p = new Preprocessor(spec(0, 192, 48, "bilinear", 0, 0, "RGB"), new long[] {1, 3, 48, 192});
        byte[] pixels = new byte[100 * 90 * 3];
        new java.util.Random(5).nextBytes(pixels);
        InputTensor tensor = p.apply(new Image8(100, 90, 3, pixels));
        assertArrayEquals(new long[] {1, 3, 48, 192}, tensor.shape);
        assertEquals(3 * 48 * 192, tensor.data.length);
    }

    @Test
    public void withoutCropTheShapeFollowsThePhoto() {
        Preprocessor p = new Preprocessor(spec(32, 0, 0, "nearest", 0, 0, "RGB"), DYNAMIC);
        InputTensor tensor = p.apply(new Image8(80, 40, 3, new byte[80 * 40 * 3]));
        assertArrayEquals(new long[] {1, 3, 32, 64}, tensor.shape);
    }

    @Test
    public void nearestResizeUsesOpenCvsSourcePositions() {
        Preprocessor p = new Preprocessor(spec(0, 2, 2, "nearest", 0, 0, "RGB"), DYNAMIC);
        Image8 small = p.resize(ramp());
        // x: floor(d * 2.5) = 0, 2; y: floor(d * 2) = 0, 2
        assertEquals(0, small.get(0, 0, 0));
        assertEquals(2, small.get(1, 0, 0));
        assertEquals(10, small.get(0, 1, 0));
        assertEquals(12, small.get(1, 1, 0));
    }

    @Test
    public void aTensorOfAnotherSizeThanTheModelsIsRefused() {
        Preprocessor p = new Preprocessor(spec(32, 0, 0, "bilinear", 0, 0, "RGB"), new long[] {1, 3, 32, 32});
        try {
            p.apply(new Image8(80, 40, 3, new byte[80 * 40 * 3]));
            fail("no error for a 64x32 tensor of a 32x32 model");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("64x32") && e.getMessage().contains("32x32"));
        }
    }

    @Test(expected = IllegalArgumentException.class)
    public void grayImagesAreRejected() {
        Preprocessor.imagenet().apply(new Image8(300, 300, 1, new byte[300 * 300]));
    }

    @Test(expected = IllegalArgumentException.class)
    public void cropLargerThanResizeIsRejected() {
        new Preprocessor(spec(200, 0, 0, "bilinear", 224, 224, "RGB"), DYNAMIC);
    }

    @Test
    public void filtersTheAppCannotReproduceAreRefused() {
        for (String filter : new String[] {"bicubic", "area", "cubic"}) {
            try {
                spec(256, 0, 0, filter, 224, 224, "RGB");
                fail("no error for " + filter);
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage(), e.getMessage().contains(filter));
            }
        }
    }

    @Test
    public void wholePipelineGivesTheModelShape() {
        byte[] pixels = new byte[640 * 480 * 3];
        new java.util.Random(3).nextBytes(pixels);
        InputTensor tensor = Preprocessor.imagenet().apply(new Image8(640, 480, 3, pixels));
        assertEquals(3 * 224 * 224, tensor.data.length);
        assertArrayEquals(new long[] {1, 3, 224, 224}, tensor.shape);
    }
}
