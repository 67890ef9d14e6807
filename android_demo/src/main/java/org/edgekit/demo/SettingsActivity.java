package org.edgekit.demo;

import android.app.Activity;
import android.os.Bundle;
import android.preference.PreferenceFragment;

/** Model file, threads and power mode; Android's preference screen stores them (see Settings). */
public class SettingsActivity extends Activity {
    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        if (getActionBar() != null) {
            getActionBar().setDisplayHomeAsUpEnabled(true);
        }
        if (savedInstanceState == null) {
            getFragmentManager().beginTransaction().replace(android.R.id.content, new SettingsFragment()).commit();
        }
    }

    @Override
    public boolean onNavigateUp() {
        finish();
        return true;
    }

    /** The preference screen of res/xml/settings.xml. */
    public static class SettingsFragment extends PreferenceFragment {
        @Override
        public void onCreate(Bundle savedInstanceState) {
            super.onCreate(savedInstanceState);
            addPreferencesFromResource(R.xml.settings);
        }
    }
}
