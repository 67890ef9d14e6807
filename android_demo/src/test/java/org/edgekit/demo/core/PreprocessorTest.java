package org.edgekit.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import org.junit.Test;

public class PreprocessorTest {
    @Test
    public void shortSideScalingRoundsLikePython() {
        assertArrayEquals(new int[] {341, 256}, Preprocessor.resizedSize(500, 375, 256));
        assertArrayEquals(new int[] {256, 341}, Preprocessor.resizedSize(375, 500, 256));
        // halves go to the even neighbour, as Python's round() does: 7.5 -> 8, 4.5 -> 4
        assertArrayEquals(new int[] {8, 3}, Preprocessor.resizedSize(5, 2, 3));
        assertArrayEquals(new int[] {4, 3}, Preprocessor.resizedSize(3, 2, 3));
    }

    @Test
    public void defaultShortSideIsCropOverPoint875() {
        Preprocessor p = new Preprocessor(224, 0, Preprocessor.IMAGENET_MEAN, Preprocessor.IMAGENET_STD);
        assertEquals(256, p.resizeShort());
        assertArrayEquals(new long[] {1, 3, 224, 224}, p.inputShape());
    }

    @Test
    public void centerCropRoundsTheOffsetsDown() {
        byte[] pixels = new byte[5 * 4 * 3];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (byte) (i / 3);  // pixel index in every channel
        }
        Image8 image = new Image8(5, 4, 3, pixels);
        Preprocessor p = new Preprocessor(2, 2, Preprocessor.IMAGENET_MEAN, Preprocessor.IMAGENET_STD);
        Image8 crop = p.centerCrop(image);
        // left = (5 - 2) / 2 = 1, top = (4 - 2) / 2 = 1: pixels 6, 7, 11, 12
        assertEquals(6, crop.get(0, 0, 0));
        assertEquals(7, crop.get(1, 0, 2));
        assertEquals(11, crop.get(0, 1, 1));
        assertEquals(12, crop.get(1, 1, 0));
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

    @Test(expected = IllegalArgumentException.class)
    public void grayImagesAreRejected() {
        Preprocessor.imagenet().apply(new Image8(300, 300, 1, new byte[300 * 300]));
    }

    @Test(expected = IllegalArgumentException.class)
    public void cropLargerThanResizeIsRejected() {
        new Preprocessor(224, 200, Preprocessor.IMAGENET_MEAN, Preprocessor.IMAGENET_STD);
    }

    @Test
    public void wholePipelineGivesTheModelShape() {
        byte[] pixels = new byte[640 * 480 * 3];
        new java.util.Random(3).nextBytes(pixels);
        float[] tensor = Preprocessor.imagenet().apply(new Image8(640, 480, 3, pixels));
        assertEquals(3 * 224 * 224, tensor.length);
    }
}
