package org.edgekit.demo.lite;

import com.baidu.paddle.lite.MobileConfig;
import com.baidu.paddle.lite.PaddleLiteInitializer;
import com.baidu.paddle.lite.PaddlePredictor;
import com.baidu.paddle.lite.PowerMode;
import com.baidu.paddle.lite.Tensor;

import org.edgekit.demo.core.InferenceEngine;
import org.edgekit.demo.core.PowerModes;

/**
 * The demo's engine on Paddle Lite's Java API (PaddlePredictor.jar + libpaddle_lite_jni.so).
 *
 * <p>This file is compiled only when {@code edgekit app build} is given Paddle Lite's library
 * ({@code --paddle-lite-lib}); the app looks the class up by name, so an APK without the library
 * simply has no engine.
 */
public final class PaddleLiteEngine implements InferenceEngine {
    private PaddlePredictor predictor;
    private String modelPath;

    public PaddleLiteEngine() {
        // Load the JNI library now: a missing .so, or one for another ABI, is then reported when
        // the engine is created (UnsatisfiedLinkError) rather than at the first classification.
        System.loadLibrary(PaddleLiteInitializer.JNI_LIB_NAME);
    }

    @Override
    public void load(String modelPath, int threads, String powerMode) throws Exception {
        MobileConfig config = new MobileConfig();
        config.setModelFromFile(modelPath);
        config.setThreads(threads);
        config.setPowerMode(PowerMode.valueOf(PowerModes.check(powerMode)));
        PaddlePredictor created = PaddlePredictor.createPaddlePredictor(config);
        if (created == null) {
            throw new Exception("Paddle Lite rejected " + modelPath
                    + " (is it an ARM .nb made by a compatible opt version?)");
        }
        predictor = created;
        this.modelPath = modelPath;
    }

    @Override
    public float[] run(float[] input, long[] shape) throws Exception {
        if (predictor == null) {
            throw new IllegalStateException("no model loaded");
        }
        Tensor tensor = predictor.getInput(0);
        if (tensor == null || !tensor.resize(shape) || !tensor.setData(input)) {
            throw new Exception("cannot set the input tensor of " + modelPath);
        }
        if (!predictor.run()) {
            throw new Exception("Paddle Lite failed to run " + modelPath);
        }
        Tensor output = predictor.getOutput(0);
        if (output == null) {
            throw new Exception(modelPath + " has no output tensor");
        }
        return output.getFloatData();
    }

    @Override
    public String describe() {
        return "Paddle Lite";
    }

    @Override
    public void close() {
        // PaddlePredictor frees its C++ side when collected; dropping the reference is all it takes.
        predictor = null;
    }
}
