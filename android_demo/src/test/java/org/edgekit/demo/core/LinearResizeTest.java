package org.edgekit.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import org.junit.Test;

/** Hand-computed cases of OpenCV's fixed-point bilinear arithmetic (the cv2 cross-check is in CrossCheckTest). */
public class LinearResizeTest {
    private static Image8 gray(int width, int height, int... values) {
        byte[] pixels = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            pixels[i] = (byte) values[i];
        }
        return new Image8(width, height, 1, pixels);
    }

    private static int[] values(Image8 image) {
        int[] out = new int[image.pixels().length];
        for (int i = 0; i < out.length; i++) {
            out[i] = image.pixels()[i] & 0xff;
        }
        return out;
    }

    @Test
    public void sameSizeIsACopy() {
        Image8 source = gray(3, 2, 1, 2, 3, 4, 5, 6);
        Image8 out = LinearResize.resize(source, 3, 2);
        assertArrayEquals(values(source), values(out));
    }

    @Test
    public void exactHalvingIsTheRoundedMeanOfEachBlock() {
        // (10 + 20 + 30 + 41 + 2) >> 2 = 25, where a bilinear sample at the block centre would give 25.25
        Image8 out = LinearResize.resize(gray(2, 2, 10, 20, 30, 41), 1, 1);
        assertArrayEquals(new int[] {25}, values(out));
    }

    @Test
    public void upscalingARampUsesElevenBitWeightsAndClampsTheEdges() {
        // x positions -0.25 (clamped to pixel 0), 0.25, 0.75 and 1.25 (clamped to pixel 1);
        // 0.25 * 255 = 63.75 comes out as 64 through the >>4, mulhi and >>2 steps, 0.75 * 255 as 191.
        Image8 out = LinearResize.resize(gray(2, 1, 0, 255), 4, 1);
        assertArrayEquals(new int[] {0, 64, 191, 255}, values(out));
    }

    @Test
    public void rowsAboveAndBelowTheImageRepeatTheEdgeRows() {
        Image8 out = LinearResize.resize(gray(1, 2, 100, 200), 1, 4);
        assertArrayEquals(new int[] {100, 125, 175, 200}, values(out));
    }

    @Test
    public void constantImagesStayConstantAtAnyScale() {
        byte[] pixels = new byte[7 * 5 * 3];
        java.util.Arrays.fill(pixels, (byte) 201);
        Image8 source = new Image8(7, 5, 3, pixels);
        int[][] sizes = {{3, 2}, {13, 11}, {1, 1}, {100, 3}};
        for (int[] size : sizes) {
            Image8 out = LinearResize.resize(source, size[0], size[1]);
            assertEquals(size[0] * size[1] * 3, out.pixels().length);
            for (int v : values(out)) {
                assertEquals(201, v);
            }
        }
    }

    @Test
    public void weightsRoundHalfToEvenLikeCvRound() {
        assertEquals(2048, LinearResize.fixedPoint(1f));
        assertEquals(1024, LinearResize.fixedPoint(0.5f));
        // 0.00048828125 * 2048 = 1.0 exactly; 0.000732421875 * 2048 = 1.5 -> 2; 0.001220703125 * 2048 = 2.5 -> 2
        assertEquals(1, LinearResize.fixedPoint(0.00048828125f));
        assertEquals(2, LinearResize.fixedPoint(0.000732421875f));
        assertEquals(2, LinearResize.fixedPoint(0.001220703125f));
    }

    @Test
    public void floorMatchesCvFloorForNegativeFractions() {
        assertEquals(-1, LinearResize.floor(-0.25f));
        assertEquals(0, LinearResize.floor(0.75f));
        assertEquals(-2, LinearResize.floor(-2f));
    }

    @Test(expected = IllegalArgumentException.class)
    public void emptyTargetSizeIsRejected() {
        LinearResize.resize(gray(2, 1, 0, 255), 0, 1);
    }
}
