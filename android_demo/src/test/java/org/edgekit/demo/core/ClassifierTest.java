package org.edgekit.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.Test;

/**
 * The orchestration around an engine. Paddle Lite's runtime cannot run on this JVM (its JNI
 * library is built for Android/ARM), so a test engine stands in: it returns the mean of each
 * input channel as three "logits" and records its calls.
 */
public class ClassifierTest {
    private static final class ChannelMeanEngine implements InferenceEngine {
        final List<long[]> shapes = new ArrayList<long[]>();

        @Override
        public void load(String modelPath, int threads, String powerMode) {
        }

        @Override
        public float[] run(float[] input, long[] shape) {
            shapes.add(shape);
            int plane = input.length / 3;
            float[] means = new float[3];
            for (int c = 0; c < 3; c++) {
                double sum = 0;
                for (int i = 0; i < plane; i++) {
                    sum += input[c * plane + i];
                }
                means[c] = (float) (sum / plane);
            }
            return means;
        }

        @Override
        public String describe() {
            return "channel means";
        }

        @Override
        public void close() {
        }
    }

    private static Image8 solid(int r, int g, int b) {
        byte[] pixels = new byte[300 * 260 * 3];
        for (int i = 0; i < pixels.length; i += 3) {
            pixels[i] = (byte) r;
            pixels[i + 1] = (byte) g;
            pixels[i + 2] = (byte) b;
        }
        return new Image8(300, 260, 3, pixels);
    }

    @Test
    public void warmsUpOnceThenTimesEachRun() throws Exception {
        ChannelMeanEngine engine = new ChannelMeanEngine();
        Classifier classifier = new Classifier(engine, Preprocessor.imagenet(), Labels.parse("red\ngreen\nblue\n"), 2);

        Classifier.Result first = classifier.classify(solid(250, 10, 10));
        assertEquals(2, engine.shapes.size());  // warm-up + measured run
        assertTrue(first.warmupMs > 0);
        assertEquals("red", first.top.get(0).label);
        assertEquals(2, first.top.size());

        Classifier.Result second = classifier.classify(solid(10, 10, 250));
        assertEquals(3, engine.shapes.size());
        assertEquals(0.0, second.warmupMs, 0.0);
        assertEquals("blue", second.top.get(0).label);
        assertTrue(second.inferenceMs >= 0 && second.preprocessMs >= 0);
        assertArrayEquals(new long[] {1, 3, 224, 224}, engine.shapes.get(2));
    }
}
