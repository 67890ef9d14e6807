package org.edgekit.demo;

import android.Manifest;
import android.app.Activity;
import android.content.ActivityNotFoundException;
import android.content.Intent;
import android.content.pm.PackageManager;
import android.graphics.Bitmap;
import android.net.Uri;
import android.os.Bundle;
import android.provider.MediaStore;
import android.view.View;
import android.widget.Button;
import android.widget.ImageView;
import android.widget.TextView;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import org.edgekit.demo.core.Classifier;
import org.edgekit.demo.core.InferenceEngine;
import org.edgekit.demo.core.Labels;
import org.edgekit.demo.core.ModelDescription;
import org.edgekit.demo.core.ModelInfo;
import org.edgekit.demo.core.Prediction;
import org.edgekit.demo.core.Preprocessor;

/**
 * Classifies the bundled sample photo, or one from the gallery or the camera, and shows the
 * top-3 classes (fewer when the model has fewer) with their scores and the inference time
 * measured after a warm-up run. The input is prepared as the model's description says
 * ({@code description.json}); classes are named from the model's labels, or shown by id.
 *
 * <p>All model work happens on one background thread; the UI thread only shows results.
 */
public class MainActivity extends Activity {
    private static final int PICK_IMAGE = 1;
    private static final int TAKE_PHOTO = 2;
    private static final int READ_STORAGE = 3;
    private static final int TOP_K = 3;
    private static final String PROPERTIES_ASSET = "edgekit.properties";
    private static final int PREVIEW_SIZE = 1600;

    private final ExecutorService worker = Executors.newSingleThreadExecutor();
    private ImageView imageView;
    private TextView resultsView;
    private ModelInfo info;
    private Preprocessor preprocessor;
    private Labels labels;
    private File cameraFile;

    // Touched on the worker thread only.
    private InferenceEngine engine;
    private Classifier classifier;
    private String loadedSignature;
    private String engineProblem;
    private volatile Settings loadedSettings;  // read by onResume on the UI thread

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setContentView(R.layout.activity_main);
        imageView = (ImageView) findViewById(R.id.image);
        resultsView = (TextView) findViewById(R.id.results);
        bindButtons();
        try {
            InputStream properties = getAssets().open(PROPERTIES_ASSET);
            try {
                info = ModelInfo.read(properties);
            } finally {
                properties.close();
            }
            InputStream json = getAssets().open(info.descriptionAsset);
            try {
                preprocessor = Preprocessor.forModel(ModelDescription.read(json));
            } finally {
                json.close();
            }
            labels = Labels.classIds();
            if (info.labelsAsset != null) {
                InputStream labelList = getAssets().open(info.labelsAsset);
                try {
                    labels = Labels.read(labelList);
                } finally {
                    labelList.close();
                }
            }
        } catch (IOException | RuntimeException e) {
            resultsView.setText("This APK's assets are incomplete: " + e.getMessage());
            return;
        }
        Settings.ensureDefaults(this, info);
        classifySample();
    }

    @Override
    protected void onDestroy() {
        worker.execute(new Runnable() {
            @Override
            public void run() {
                if (engine != null) {
                    engine.close();
                }
            }
        });
        worker.shutdown();
        super.onDestroy();
    }

    private void bindButtons() {
        ((Button) findViewById(R.id.button_sample)).setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                classifySample();
            }
        });
        ((Button) findViewById(R.id.button_gallery)).setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                Intent pick = new Intent(Intent.ACTION_GET_CONTENT);
                pick.setType("image/*");
                pick.addCategory(Intent.CATEGORY_OPENABLE);
                startActivityForResult(Intent.createChooser(pick, getString(R.string.button_gallery)), PICK_IMAGE);
            }
        });
        ((Button) findViewById(R.id.button_camera)).setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                takePhoto();
            }
        });
        ((Button) findViewById(R.id.button_settings)).setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                startActivity(new Intent(MainActivity.this, SettingsActivity.class));
            }
        });
    }

    private void takePhoto() {
        cameraFile = PhotoProvider.cameraFile(this);
        if (cameraFile.exists() && !cameraFile.delete()) {
            resultsView.setText("Cannot remove the previous camera photo " + cameraFile);
            return;
        }
        Intent capture = new Intent(MediaStore.ACTION_IMAGE_CAPTURE);
        // The camera app writes the full-size JPEG through this app's provider (content://, write
        // access granted to it alone): it cannot write a file:// path in this app's folders.
        capture.putExtra(MediaStore.EXTRA_OUTPUT, PhotoProvider.cameraUri());
        capture.addFlags(Intent.FLAG_GRANT_WRITE_URI_PERMISSION | Intent.FLAG_GRANT_READ_URI_PERMISSION);
        try {
            startActivityForResult(capture, TAKE_PHOTO);
        } catch (ActivityNotFoundException e) {
            resultsView.setText(R.string.no_camera);
        }
    }

    @Override
    protected void onActivityResult(int requestCode, int resultCode, Intent data) {
        super.onActivityResult(requestCode, resultCode, data);
        if (resultCode != RESULT_OK || info == null) {
            return;
        }
        if (requestCode == PICK_IMAGE && data != null && data.getData() != null) {
            final Uri uri = data.getData();
            classify(new PhotoSource() {
                @Override
                public Photos.Photo open() throws IOException {
                    return Photos.fromUri(MainActivity.this, uri);
                }
            }, uri.getLastPathSegment());
        } else if (requestCode == TAKE_PHOTO && cameraFile != null) {
            final File file = cameraFile;
            classify(new PhotoSource() {
                @Override
                public Photos.Photo open() throws IOException {
                    return Photos.fromFile(file);
                }
            }, "camera photo");
        }
    }

    @Override
    protected void onResume() {
        super.onResume();
        // Coming back from the settings screen: the next classification reloads if they changed.
        if (info != null && loadedSettings != null
                && !Settings.load(this, info).signature().equals(loadedSettings.signature())) {
            classifySample();
        }
    }

    @Override
    public void onRequestPermissionsResult(int requestCode, String[] permissions, int[] grantResults) {
        if (requestCode == READ_STORAGE && grantResults.length > 0
                && grantResults[0] == PackageManager.PERMISSION_GRANTED) {
            classifySample();
        }
    }

    private interface PhotoSource {
        Photos.Photo open() throws IOException;
    }

    private void classifySample() {
        if (info == null) {
            return;
        }
        classify(new PhotoSource() {
            @Override
            public Photos.Photo open() throws IOException {
                return Photos.fromAsset(MainActivity.this, info.sampleAsset);
            }
        }, "sample photo");
    }

    private void classify(final PhotoSource source, final String what) {
        final Settings settings = Settings.load(this, info);
        if (!settings.usesBundledModel() && needsStoragePermission(settings.modelPath)) {
            requestPermissions(new String[] {Manifest.permission.READ_EXTERNAL_STORAGE}, READ_STORAGE);
            return;
        }
        resultsView.setText(R.string.status_classifying);
        worker.execute(new Runnable() {
            @Override
            public void run() {
                String text;
                Photos.Photo photo = null;
                try {
                    photo = source.open();
                    show(photo);
                    text = describe(what, settings, classifyOnWorker(photo, settings));
                } catch (EngineLoader.UnavailableException e) {
                    text = e.getMessage();
                } catch (Exception e) {
                    text = "Classifying the " + what + " failed: " + e;
                } catch (OutOfMemoryError e) {
                    text = "The " + what + " is too large for this phone's memory.";
                }
                post(text);
            }
        });
    }

    private boolean needsStoragePermission(String path) {
        boolean inAppFolders = path.startsWith(getFilesDir().getPath())
                || (getExternalFilesDir(null) != null && path.startsWith(getExternalFilesDir(null).getPath()));
        return !inAppFolders && checkSelfPermission(Manifest.permission.READ_EXTERNAL_STORAGE)
                != PackageManager.PERMISSION_GRANTED;
    }

    /** Loads (or reloads, after a settings change) the model, then classifies. Worker thread. */
    private Classifier.Result classifyOnWorker(Photos.Photo photo, Settings settings) throws Exception {
        if (!settings.signature().equals(loadedSignature)) {
            loadModel(settings);
        }
        if (classifier == null) {
            throw new EngineLoader.UnavailableException(engineProblem, null);
        }
        return classifier.classify(photo.pixels());
    }

    private void loadModel(Settings settings) throws IOException {
        classifier = null;
        loadedSettings = settings;
        loadedSignature = settings.signature();
        if (engine == null) {
            try {
                engine = EngineLoader.create(getString(R.string.no_inference_library));
            } catch (EngineLoader.UnavailableException e) {
                engineProblem = e.getMessage();
                return;
            }
        }
        String path = settings.usesBundledModel() ? bundledModelFile().getPath() : settings.modelPath;
        if (!new File(path).isFile()) {
            engineProblem = "No model file at " + path + " (see Settings).";
            return;
        }
        try {
            engine.load(path, settings.threads, settings.powerMode);
        } catch (Exception e) {
            engineProblem = "Paddle Lite could not load " + path + ": " + e.getMessage();
            return;
        }
        classifier = new Classifier(engine, preprocessor, labels, TOP_K);
    }

    /** Paddle Lite loads models from files: the bundled .nb is copied out of the APK once per version. */
    private File bundledModelFile() throws IOException {
        File folder = new File(getFilesDir(), "models");
        File model = new File(folder, info.modelSha256 + ".nb");
        if (model.isFile()) {
            return model;
        }
        if (!folder.isDirectory() && !folder.mkdirs()) {
            throw new IOException("cannot create " + folder);
        }
        File partial = new File(folder, model.getName() + ".partial");
        InputStream in = getAssets().open(info.modelAsset);
        try {
            OutputStream out = new FileOutputStream(partial);
            try {
                Photos.copyStream(in, out);
            } finally {
                out.close();
            }
        } finally {
            in.close();
        }
        if (!partial.renameTo(model)) {
            throw new IOException("cannot rename " + partial + " to " + model);
        }
        return model;
    }

    private String describe(String what, Settings settings, Classifier.Result result) {
        StringBuilder text = new StringBuilder();
        text.append(String.format(Locale.ROOT, "%s — %s%n", info.modelName, what));
        for (int i = 0; i < result.top.size(); i++) {
            Prediction p = result.top.get(i);
            text.append(String.format(Locale.ROOT, "%d. %s  %.1f %%  (class %d)%n",
                    i + 1, p.label, 100.0 * p.score, p.classId));
        }
        text.append(String.format(Locale.ROOT, "%nInference: %.1f ms", result.inferenceMs));
        if (result.warmupMs > 0) {
            text.append(String.format(Locale.ROOT, " (after a warm-up run of %.1f ms)", result.warmupMs));
        }
        text.append(String.format(Locale.ROOT, "%nPreprocessing: %.1f ms%n%s, %d thread(s), %s%nModel: %s",
                result.preprocessMs, engine.describe(), settings.threads, settings.powerMode,
                settings.usesBundledModel() ? "bundled " + info.modelAsset : settings.modelPath));
        return text.toString();
    }

    private void show(final Photos.Photo photo) {
        final Bitmap preview = preview(photo.bitmap);
        runOnUiThread(new Runnable() {
            @Override
            public void run() {
                imageView.setImageBitmap(preview);
                imageView.setRotation(rotationDegrees(photo.orientation));
            }
        });
    }

    /** A copy small enough for the screen (GPU textures stop at 4096 pixels); the model sees the original. */
    private static Bitmap preview(Bitmap bitmap) {
        int longest = Math.max(bitmap.getWidth(), bitmap.getHeight());
        if (longest <= PREVIEW_SIZE) {
            return bitmap;
        }
        float scale = (float) PREVIEW_SIZE / longest;
        return Bitmap.createScaledBitmap(bitmap, Math.round(bitmap.getWidth() * scale),
                Math.round(bitmap.getHeight() * scale), true);
    }

    private static float rotationDegrees(int orientation) {
        switch (orientation) {
            case 3:
                return 180f;
            case 6:
                return 90f;
            case 8:
                return 270f;
            default:
                return 0f;
        }
    }

    private void post(final String text) {
        runOnUiThread(new Runnable() {
            @Override
            public void run() {
                resultsView.setText(text);
            }
        });
    }
}
