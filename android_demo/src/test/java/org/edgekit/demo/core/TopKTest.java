package org.edgekit.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.util.List;

import org.junit.Test;

public class TopKTest {
    @Test
    public void largestFirst() {
        assertArrayEquals(new int[] {3, 1, 0}, TopK.indices(new float[] {0.1f, 0.3f, -1f, 0.9f}, 3));
    }

    @Test
    public void tiesKeepTheLowerIndexFirst() {
        assertArrayEquals(new int[] {1, 3, 0}, TopK.indices(new float[] {0.2f, 0.5f, 0.1f, 0.5f, 0.2f}, 3));
    }

    @Test
    public void kLargerThanTheClassesGivesThemAll() {
        assertArrayEquals(new int[] {1, 0}, TopK.indices(new float[] {1f, 2f}, 5));
        assertArrayEquals(new int[] {}, TopK.indices(new float[] {1f, 2f}, 0));
    }

    @Test
    public void nanRanksLast() {
        assertArrayEquals(new int[] {2, 0, 1}, TopK.indices(new float[] {-5f, Float.NaN, 3f}, 3));
    }

    @Test
    public void probabilitiesPassUnchanged() {
        float[] probs = {0.7f, 0.2f, 0.1f};
        assertArrayEquals(probs, TopK.probabilities(probs), 0f);
    }

    @Test
    public void logitsGoThroughSoftmax() {
        float[] p = TopK.probabilities(new float[] {2f, 1f, 0f});
        double e2 = Math.exp(2), e1 = Math.exp(1), sum = e2 + e1 + 1;
        assertEquals(e2 / sum, p[0], 1e-6);
        assertEquals(1 / sum, p[2], 1e-6);
    }

    @Test
    public void predictionsCarryLabels() {
        Labels labels = Labels.parse("cat\ndog\nfox\n");
        List<Prediction> top = TopK.predictions(new float[] {0.1f, 0.6f, 0.3f}, 2, labels);
        assertEquals(2, top.size());
        assertEquals("dog", top.get(0).label);
        assertEquals(1, top.get(0).classId);
        assertEquals(0.6f, top.get(0).score, 0f);
        assertEquals("fox", top.get(1).label);
    }
}
