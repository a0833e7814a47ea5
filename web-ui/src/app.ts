// What the panels need from the application: the client, the model, whether changes are
// allowed, and a way to refresh after a change.

import type { Client } from './api/client';
import type { Session, WorkloadInfo } from './api/types';
import type { Filters, MapModel } from './map/model';
import type { MapView } from './map/view';

export interface App {
  client: Client;
  session: Session;
  model: MapModel;
  view: MapView;
  filters: Filters;
  /** Workloads with their labels (for rules), refreshed with the graph. */
  workloads: Map<string, WorkloadInfo>;
  canWrite(): boolean;
  reload(): Promise<void>;
}
