package org.edgekit.demo.core;

/**
 * What the demo needs from an inference library. The Paddle Lite implementation
 * ({@code org.edgekit.demo.lite.PaddleLiteEngine}) is compiled and packaged only when the APK is
 * built with Paddle Lite's Java library; the app finds it by name at run time, so an APK built
 * without the library has no engine at all (and says so) instead of a stand-in.
 */
public interface InferenceEngine {
    /** Loads an optimized model ({@code .nb}) with these CPU settings; replaces any model loaded before. */
    void load(String modelPath, int threads, String powerMode) throws Exception;

    /** Runs the model on one NCHW float input and returns its first output. */
    float[] run(float[] input, long[] shape) throws Exception;

    /** A short description of the library, e.g. its name and version. */
    String describe();

    /** Releases the model. */
    void close();
}
