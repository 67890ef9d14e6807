package org.edgekit.demo.core;

import java.util.List;

/**
 * Preprocessing, a timed model run and top-k (at most as many classes as the model has), around
 * an {@link InferenceEngine}.
 *
 * <p>The first run after a model is loaded pays for memory allocation and kernel choice, so it
 * is a warm-up that is not reported; every classification then times its own run only.
 */
public final class Classifier {
    /** What one classification produced. */
    public static final class Result {
        public final List<Prediction> top;
        public final double preprocessMs;
        public final double inferenceMs;
        public final double warmupMs;  // > 0 on the first classification after loading only

        Result(List<Prediction> top, double preprocessMs, double inferenceMs, double warmupMs) {
            this.top = top;
            this.preprocessMs = preprocessMs;
            this.inferenceMs = inferenceMs;
            this.warmupMs = warmupMs;
        }
    }

    private final InferenceEngine engine;
    private final Preprocessor preprocessor;
    private final Labels labels;
    private final int topK;
    private boolean warmedUp;

    public Classifier(InferenceEngine engine, Preprocessor preprocessor, Labels labels, int topK) {
        this.engine = engine;
        this.preprocessor = preprocessor;
        this.labels = labels;
        this.topK = topK;
    }

    public Result classify(PixelSource rgb) throws Exception {
        long start = System.nanoTime();
        InputTensor tensor = preprocessor.apply(rgb);
        double preprocessMs = millisSince(start);
        float[] input = tensor.data;
        long[] shape = tensor.shape;
        double warmupMs = 0;
        if (!warmedUp) {
            long warmStart = System.nanoTime();
            engine.run(input, shape);
            warmupMs = millisSince(warmStart);
            warmedUp = true;
        }
        long runStart = System.nanoTime();
        float[] output = engine.run(input, shape);
        double inferenceMs = millisSince(runStart);
        if (output == null || output.length == 0) {
            throw new IllegalStateException("the model returned no output");
        }
        return new Result(TopK.predictions(output, topK, labels), preprocessMs, inferenceMs, warmupMs);
    }

    private static double millisSince(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e6;
    }
}
